// Namespaces watched through the Kubernetes API (kubeconfig or in-cluster). A cache miss is answered by a live
// read, so a namespace created a moment ago is judged by its real labels, not by a guess.
//
// Fail closed, not locked out: when the watch breaks, the cache may be missing events (a namespace relabelled to
// production while we were not looking), so it is not trusted until a fresh list has arrived; every lookup in the
// meantime is a live read. If the apiserver answers, agents are judged by current labels at once; if it does not,
// the read fails and the agent is refused (namespace-unavailable). Refusing every agent until the relist (the
// cache's "not ready") would lock agents out even while the apiserver can answer; serving the last good cache
// would judge by labels that may have changed.
import { CoreV1Api, makeInformer, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../kube/types.js';
import { statusCode } from '../kube/api-error.js';
import type { NamespaceDirectory } from './namespace-directory.js';
import { withTimeout } from '../kube/retry.js';

// Well inside the webhook's 5 s timeout: a slow apiserver makes the agent's request fail closed, with a reason.
const LIVE_READ_TIMEOUT_MS = 2000;

export interface RestartBackoff {
  /** The delay before the first restart after a failure; doubled on each failure in a row. */
  firstMs: number;
  /** The longest delay: bounds how long after the apiserver is back the cache is trusted again. */
  maxMs: number;
  /**
   * How long a list may take. client-node's list has no timeout of its own (its watch has 30 s of inactivity): a
   * list sent to a hung apiserver or into a dropped network would otherwise wait for TCP to give up, many minutes.
   */
  listTimeoutMs: number;
}

// A broken watch is retried at once-ish (a reset connection to a healthy apiserver costs a fraction of a second);
// an apiserver that is down is asked at most every 4 s, so it is seen again within seconds of coming back.
const DEFAULT_BACKOFF: RestartBackoff = { firstMs: 200, maxMs: 4000, listTimeoutMs: 15_000 };

const HEALTHY_WATCH_MS = 10_000;

type Informer = ReturnType<typeof makeInformer<V1Namespace>>;

export function kubeNamespaceDirectory(kc: KubeConfig, log: Logger, backoff: RestartBackoff = DEFAULT_BACKOFF): NamespaceDirectory {
  const api = kc.makeApiClient(CoreV1Api);
  let ready = false; // a complete list has arrived once: before that, agents are refused (handle-review)
  let current = false; // the cache holds a complete list and the watch that keeps it has not failed since
  let closed = false;
  let failures = 0; // restarts in a row without a watch that lasted (the backoff's exponent)
  let syncedAt: number | undefined; // when the current informer's list came in
  let brokenSince: number | undefined;
  let restart: NodeJS.Timeout | undefined;
  let listsStarted = 0; // only the newest list may mark the cache current

  // Each (re)start builds a fresh informer, so it begins with a complete list. Restarting the old one would resume
  // its watch from the last resourceVersion without listing.
  const launch = (): void => {
    let failed = false;
    const listAll = async (): ReturnType<CoreV1Api['listNamespace']> => {
      // A list also happens inside one informer (after a 410 Gone): until it is in, the cache is behind.
      if (made === informer) current = false;
      const generation = (listsStarted += 1);
      const list = await withTimeout(api.listNamespace(), backoff.listTimeoutMs, 'listing namespaces');
      // A replaced or closed informer must not go on to open a watch nobody reads: failing here ends it.
      if (made !== informer || closed) throw new Error('namespace informer replaced');
      // The informer fills its cache from the list after this promise settles (in microtasks), so the cache is
      // trusted only from the next macrotask on; a lookup in between reads live, which is safe.
      setImmediate(() => {
        if (made !== informer || closed || failed || generation !== listsStarted) return;
        current = true;
        ready = true;
        syncedAt = Date.now();
        if (brokenSince !== undefined) log.info({ recoveredAfterMs: Date.now() - brokenSince, namespaces: made.list().length }, 'namespaces synced again');
        brokenSince = undefined;
      });
      return list;
    };
    const made = makeInformer<V1Namespace>(kc, '/api/v1/namespaces', listAll);
    const onFailure = (message: string) => (error: unknown): void => {
      // One restart per informer, and none for an informer that was replaced (its stop() aborts it: an error too).
      if (made !== informer || failed || closed) return;
      failed = true;
      scheduleRestart(error, message);
    };
    made.on('error', onFailure('namespace watch failed; lookups read live until a fresh list'));
    const old = informer;
    informer = made;
    if (old !== undefined) void old.stop();
    made.start().catch(onFailure('namespace watch could not start; lookups read live until it does'));
  };

  const scheduleRestart = (error: unknown, message: string): void => {
    current = false;
    // The backoff starts over only after a watch that lasted: a list that succeeds before a watch that fails at
    // once must not turn into a tight loop of lists.
    if (syncedAt !== undefined && Date.now() - syncedAt >= HEALTHY_WATCH_MS) failures = 0;
    syncedAt = undefined;
    brokenSince ??= Date.now();
    if (closed) return;
    const wait = Math.min(backoff.firstMs * 2 ** failures, backoff.maxMs);
    failures += 1;
    log.warn({ err: error, retryInMs: wait }, message);
    if (restart !== undefined) clearTimeout(restart);
    restart = setTimeout(() => {
      restart = undefined;
      launch();
    }, wait);
  };

  let informer: Informer | undefined;
  launch();

  const readLive = async (name: string): Promise<KubeObject | undefined> => {
    try {
      return (await withTimeout(api.readNamespace({ name }), LIVE_READ_TIMEOUT_MS, `reading namespace ${name}`)) as KubeObject;
    } catch (error: unknown) {
      if (statusCode(error) === 404) return undefined;
      throw new Error(`cannot read namespace ${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };

  return {
    isReady: () => ready,
    async get(name) {
      const cached = current ? informer?.get(name) : undefined;
      if (cached !== undefined) return cached as KubeObject;
      return readLive(name);
    },
    async close() {
      closed = true;
      current = false;
      if (restart !== undefined) clearTimeout(restart);
      await informer?.stop();
    },
  };
}
