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
  // Each (re)start builds a fresh informer, so it begins with a complete list. Restarting the old one would resume
  // its watch from the last resourceVersion without listing, and ready (which only a list can set) would stay false
  // for good: every agent request refused until the process restarts.
  const makeOne = (): ReturnType<typeof makeInformer<V1Namespace>> => {
    // Ready means "a complete list arrived": client-node's own 'connect' fires before the list, and start() resolves
    // even when the list failed, so neither can say it. A list by a replaced informer says nothing.
    const listAll = async (): ReturnType<CoreV1Api['listNamespace']> => {
      const list = await api.listNamespace();
      if (informer === made && !closed) ready = true;
      return list;
    };
    const made = makeInformer<V1Namespace>(kc, '/api/v1/namespaces', listAll);
    made.on('error', (error: unknown) => {
      if (made !== informer) return;
      log.warn({ err: error }, 'namespace watch failed; relisting');
      scheduleRestart();
    });
    return made;
  };
  let informer = makeOne();
  const scheduleRestart = (): void => {
    // Until the new informer has listed, lookups are refused (fail closed for agents) rather than judged by a cache
    // that may be missing events.
    ready = false;
    if (restart !== undefined) clearTimeout(restart);
    if (!closed) restart = setTimeout(start, restartDelayMs);
  };
  function start(): void {
    restart = undefined;
    void informer.stop();
    informer = makeOne();
    launch();
  }
  function launch(): void {
    const current = informer;
    current.start().catch((error: unknown) => {
      if (current !== informer) return;
      log.warn({ err: error }, 'namespace watch could not start; retrying');
      scheduleRestart();
    });
  }
  launch();
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
