// Namespaces watched through the Kubernetes API (kubeconfig or in-cluster). A cache miss is answered by a live
// read, so a namespace created a moment ago is judged by its real labels, not by a guess.
import { CoreV1Api, KubeConfig, makeInformer, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../admission/types.js';
import { statusCode } from './api-error.js';
import type { NamespaceDirectory } from './namespace-directory.js';
import { withTimeout } from './retry.js';

// Well inside the webhook's 5 s timeout: a slow apiserver makes the agent's request fail closed, with a reason.
const LIVE_READ_TIMEOUT_MS = 2000;

export function loadKubeConfig(kubeconfig: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  return kc;
}


export function kubeNamespaceDirectory(kc: KubeConfig, log: Logger, restartDelayMs = 2000): NamespaceDirectory {
  const api = kc.makeApiClient(CoreV1Api);
  let ready = false;
  let closed = false;
  let restart: NodeJS.Timeout | undefined;
  // Ready means "a complete list arrived": client-node's own 'connect' fires before the list, and start() resolves
  // even when the list failed, so neither can say it.
  const listAll = async (): ReturnType<CoreV1Api['listNamespace']> => {
    const list = await api.listNamespace();
    ready = true;
    return list;
  };
  const informer = makeInformer<V1Namespace>(kc, '/api/v1/namespaces', listAll);
  const scheduleRestart = (): void => {
    // The informer stops on error; until it has listed again, lookups fall through to live reads.
    ready = false;
    if (restart !== undefined) clearTimeout(restart);
    if (!closed) restart = setTimeout(start, restartDelayMs);
  };
  function start(): void {
    informer.start().catch((error: unknown) => { log.warn({ err: error }, 'namespace watch could not start; retrying'); scheduleRestart(); });
  }
  informer.on('error', (error: unknown) => {
    log.warn({ err: error }, 'namespace watch failed; restarting');
    scheduleRestart();
  });
  start();
  return {
    isReady: () => ready,
    async get(name) {
      const cached = informer.get(name);
      if (cached !== undefined) return cached as KubeObject;
      try {
        return (await withTimeout(api.readNamespace({ name }), LIVE_READ_TIMEOUT_MS, `reading namespace ${name}`)) as KubeObject;
      } catch (error: unknown) {
        if (statusCode(error) === 404) return undefined;
        throw new Error(`cannot read namespace ${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    },
    async close() {
      closed = true;
      if (restart !== undefined) clearTimeout(restart);
      await informer.stop();
    },
  };
}
