// SubjectAccessReviews sent over node:https, authenticated from the KubeConfig, for identity-power.ts. Not
// client-node's AuthorizationV1Api: it takes no AbortSignal, so a review that timed out would keep its socket.
import type { Agent, IncomingMessage } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { statusError } from '../kube/transport.js';
import type { SendReview, SubjectAccessReview } from './identity-power.js';

const PATH = '/apis/authorization.k8s.io/v1/subjectaccessreviews';
// A review's answer is a few hundred bytes; more than this is not one.
const MAX_BODY = 64 * 1024;

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY) throw new Error(`POST ${PATH}: the answer is larger than ${MAX_BODY} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

type TlsMaterial = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>;

/** A comparable form of one TLS option: PEM text, a Buffer, a list of them, a flag. */
function fingerprint(value: unknown): string {
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (Array.isArray(value)) return JSON.stringify(value.map(fingerprint));
  return value === undefined ? 'undefined' : JSON.stringify(value);
}

/**
 * One keep-alive agent per TLS material. client-node's applyToHTTPSOptions makes a new agent on every call, so each
 * review would pay a TLS handshake; the reviews of one lookup run in parallel, and the next lookup reuses the
 * sockets. The material is compared on every call, so a rotated client certificate gets a new agent.
 */
function agentCache(): (options: https.RequestOptions) => Agent {
  let current: { key: string; agent: https.Agent } | undefined;
  return (options) => {
    const material: TlsMaterial = {
      ca: options.ca, cert: options.cert, key: options.key, rejectUnauthorized: options.rejectUnauthorized, servername: options.servername,
    };
    const key = Object.values(material).map(fingerprint).join('\n');
    if (current?.key !== key) {
      // Later, not now: reviews in flight on the old agent finish (each is bounded by its timeout, under 10 s).
      const old = current?.agent;
      if (old !== undefined) setTimeout(() => { old.destroy(); }, 10_000).unref();
      current = { key, agent: new https.Agent({ keepAlive: true, ...material }) };
    }
    return current.agent;
  };
}

export function kubeSendReview(kc: KubeConfig): SendReview {
  const agentFor = agentCache();
  return async (review: SubjectAccessReview, signal: AbortSignal): Promise<unknown> => {
    const cluster = kc.getCurrentCluster();
    const server = cluster?.server ?? '';
    if (server === '') throw new Error('the kubeconfig names no API server');
    // Appended, not resolved: a server URL may carry a path prefix (a proxy's) that URL resolution would drop.
    const url = new URL(server.replace(/\/+$/, '') + PATH);
    const body = JSON.stringify(review);
    const options: https.RequestOptions = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) },
      signal,
    };
    // Per request: a token file or exec credential may have been renewed since the last one.
    await kc.applyToHTTPSOptions(options);
    // A proxy's agent (proxy-url) is kept as client-node made it.
    if (url.protocol === 'http:') delete options.agent;
    else if (cluster?.proxyUrl === undefined) options.agent = agentFor(options);
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = (url.protocol === 'http:' ? http : https).request(url, options, resolve);
      request.on('error', reject);
      request.end(body);
    });
    const text = await readBody(response);
    const code = response.statusCode ?? 0;
    if (code < 200 || code > 299) {
      let status: object = {};
      try {
        const parsed = JSON.parse(text) as unknown;
        if (typeof parsed === 'object' && parsed !== null) status = parsed;
      } catch {
        // Not a Status: an error page from a proxy in front of the API server; its text is the message.
      }
      throw statusError({ message: text.trim().slice(0, 200) || response.statusMessage, ...status, code }, `POST ${PATH}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new Error(`POST ${PATH}: the answer is not JSON`);
    }
  };
}
