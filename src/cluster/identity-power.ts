// What an identity may do that matters to Countersign: the dangerous rights (src/core/dangerous-rights.ts) it
// holds in a namespace, asked of the apiserver by SubjectAccessReview. The edge asks it for the identity a workload
// will run as and for the agent itself; the pure core compares the two. Throws when it cannot tell (fail closed).
import { DANGEROUS_RIGHTS, type DangerousRight } from '../core/dangerous-rights.js';
import { present } from '../kube/present.js';

/** Who is asked about: a ServiceAccount's user name and groups, or an agent's as the apiserver authenticated it. */
export interface Identity {
  username: string;
  groups: readonly string[];
}

export interface IdentityPower {
  /** The names of the dangerous rights `identity` holds in `namespace` ('' for cluster-scoped only), sorted. */
  rightsOf(identity: Identity, namespace: string): Promise<readonly string[]>;
}

/** An authorization.k8s.io/v1 SubjectAccessReview, as sent. */
export interface SubjectAccessReview {
  apiVersion: 'authorization.k8s.io/v1';
  kind: 'SubjectAccessReview';
  spec: {
    user: string;
    groups: string[];
    resourceAttributes: { verb: string; group: string; resource: string; subresource?: string; namespace?: string };
  };
}

/** Sends one review and resolves with the apiserver's answer (the created SubjectAccessReview), or rejects. */
export type SendReview = (review: SubjectAccessReview, signal: AbortSignal) => Promise<unknown>;

export type LookupResult = 'hit' | 'miss' | 'coalesced' | 'error';

export interface IdentityPowerOptions {
  send: SendReview;
  /** What is asked; DANGEROUS_RIGHTS unless a test narrows it. */
  rights?: readonly DangerousRight[];
  /** Per review. Well inside the webhook's 5 s: all reviews run in parallel, so this bounds the whole lookup. */
  timeoutMs?: number;
  ttlMs?: number;
  /** Least recently used entries beyond this are dropped. */
  maxEntries?: number;
  /** Milliseconds, for the cache's expiry; Date.now unless a test moves time. */
  now?: () => number;
  /** Called once per rightsOf, for a metric. */
  onLookup?: (result: LookupResult) => void;
}

export const DEFAULT_TIMEOUT_MS = 1500;
export const DEFAULT_TTL_MS = 30_000;
export const DEFAULT_MAX_ENTRIES = 1000;

function review(identity: Identity, namespace: string, right: DangerousRight): SubjectAccessReview {
  // A namespaced right asked with namespace '' is asked in all namespaces: only a cluster-wide grant answers yes.
  const attributes = {
    verb: right.verb, group: right.group, resource: right.resource,
    ...present({ subresource: right.subresource }),
    ...(right.namespaced ? { namespace } : {}),
  };
  return {
    apiVersion: 'authorization.k8s.io/v1',
    kind: 'SubjectAccessReview',
    spec: { user: identity.username, groups: [...identity.groups], resourceAttributes: attributes },
  };
}

/**
 * Allowed or not, from the answer's status. An `evaluationError` beside allowed false counts as not allowed: it is
 * what the apiserver itself concludes for a real request (RBAC reports one for a binding to a missing role, which
 * grants nothing), and refusing instead would fail every agent request touching that identity until someone fixed
 * an unrelated dangling binding. Anything but a boolean `allowed` is a malformed answer, and throws.
 */
function allowedIn(answer: unknown): boolean {
  const status = (answer as { status?: unknown } | null)?.status;
  const allowed = (status as { allowed?: unknown } | null | undefined)?.allowed;
  if (typeof allowed !== 'boolean') throw new Error('the answer carries no boolean status.allowed');
  return allowed;
}

interface Question {
  send: SendReview;
  right: DangerousRight;
  body: SubjectAccessReview;
  timeoutMs: number;
  /** Aborted when another review of the same lookup failed. */
  lookup: AbortSignal;
}

async function ask({ send, right, body, timeoutMs, lookup }: Question): Promise<boolean> {
  const controller = new AbortController();
  const abort = (): void => { controller.abort(lookup.reason); };
  lookup.addEventListener('abort', abort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  // Raced as well as aborted: a sender that ignores its signal still cannot hold the admission request.
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new Error(`no answer in ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return allowedIn(await Promise.race([send(body, controller.signal), timeout]));
  } catch (error: unknown) {
    // Named, since the edge quotes it when it refuses the agent: which review failed, and how.
    throw new Error(`SubjectAccessReview for ${right.name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    lookup.removeEventListener('abort', abort);
  }
}

interface Entry {
  rights: readonly string[];
  expires: number;
}

function cacheKey(identity: Identity, namespace: string): string {
  // JSON: no separator a user or group name could contain confuses two keys.
  return JSON.stringify([identity.username, [...identity.groups].sort(), namespace]);
}

export function createIdentityPower(options: IdentityPowerOptions): IdentityPower {
  const rights = options.rights ?? DANGEROUS_RIGHTS;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const now = options.now ?? Date.now;
  // A Map keeps insertion order: re-inserting on a hit makes its first key the least recently used.
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<readonly string[]>>();

  const lookUp = async (identity: Identity, namespace: string, key: string): Promise<readonly string[]> => {
    // Expiry counts from when the question was asked: an answer is never trusted longer than ttlMs after it.
    const askedAt = now();
    const lookup = new AbortController();
    try {
      const answers = await Promise.all(rights.map((right) => ask({ send: options.send, right, body: review(identity, namespace, right), timeoutMs, lookup: lookup.signal })));
      const held = rights.filter((_, i) => answers[i] === true).map((right) => right.name).sort();
      cache.delete(key);
      cache.set(key, { rights: held, expires: askedAt + ttlMs });
      while (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      return held;
    } catch (error: unknown) {
      // One failed review decides the answer: the others are not worth waiting for.
      lookup.abort(error);
      throw error;
    }
  };

  return {
    rightsOf(identity, namespace) {
      const key = cacheKey(identity, namespace);
      const entry = cache.get(key);
      if (entry !== undefined && entry.expires > now()) {
        cache.delete(key);
        cache.set(key, entry);
        options.onLookup?.('hit');
        return Promise.resolve(entry.rights);
      }
      if (entry !== undefined) cache.delete(key);
      const pending = inFlight.get(key);
      if (pending !== undefined) {
        options.onLookup?.('coalesced');
        return pending;
      }
      const started = lookUp(identity, namespace, key).then(
        (held) => { options.onLookup?.('miss'); return held; },
        (error: unknown) => { options.onLookup?.('error'); throw error; },
      ).finally(() => { inFlight.delete(key); });
      inFlight.set(key, started);
      return started;
    },
  };
}
