// The HTTP surface. Builds the app without listening, so tests drive it with inject and serve owns the socket.
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { handleReview, type ReviewDeps } from '../webhook/handle-review.js';
import type { Metrics } from '../observability/metrics.js';
import type { ReviewCapture } from './capture.js';
import type { KeyPair } from '../tls/x509.js';

/** controller-runtime's limit: an AdmissionReview carries up to two objects of etcd's maximum size. */
export const BODY_LIMIT_BYTES = 7 * 1024 * 1024;

export interface AppDeps extends ReviewDeps {
  metrics: Metrics;
  /** Ready when the policy is loaded and the cluster picture has synced. */
  ready: () => boolean;
  capture?: ReviewCapture;
}

function errorMessage(error: FastifyError): string {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported content type: send an AdmissionReview as application/json';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `request body too large: the limit is ${BODY_LIMIT_BYTES} bytes`;
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'empty body: send an admission.k8s.io/v1 AdmissionReview';
    default:
      return error.message;
  }
}

/** Without `https` the app is plain HTTP: for inject-driven tests only; `serve` always passes a key pair. */
export function buildApp(deps: AppDeps, https?: KeyPair): FastifyInstance {
  const common = {
    bodyLimit: BODY_LIMIT_BYTES,
    logger: false,
    // The apiserver keeps connections alive; a new TLS handshake per review costs far more than the review. Its
    // client drops an idle connection after 90 s (apimachinery's transport defaults): the server waits longer, so
    // the client is the one that closes, never a server racing a request the client just sent.
    keepAliveTimeout: 120_000,
    requestTimeout: 30_000,
  };
  const app = (https === undefined ? Fastify(common) : Fastify({ ...common, https })) as unknown as FastifyInstance;
  if (https !== undefined) app.server.on('secureConnection', () => { deps.metrics.tlsConnections.inc(); });
  app.removeAllContentTypeParsers();
  // The body is decoded by our own decoder, which names what is wrong; Fastify only hands us the text.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => { done(null, body); });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 500) deps.log.error({ err: error }, 'request failed');
    void reply.code(status).send({ error: errorMessage(error) });
  });

  app.post('/validate', async (request, reply) => {
    deps.capture?.(request.body);
    const result = await handleReview(request.body, deps);
    return reply.code(result.status).send(result.body);
  });
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = deps.ready();
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
  return app;
}
