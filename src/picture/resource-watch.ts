// Keeps one resource of the picture current: a paginated list, then a watch from the list's resourceVersion, again
// and again, until stopped. It never gives up; it says how current it is through lastConfirmedAt, and the picture
// decides from that whether it may be trusted.
// Hand-written: client-node's informers stop silently on errors and cannot watch PartialObjectMetadata.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WatchedResource } from './discovery.js';
import { FULL_OBJECT_RESOURCES, toEntry, type PictureEntry } from '../core/picture-view/entry.js';
import type { PictureIndex } from '../core/picture-view/picture-index.js';
import { isGone, statusError, type PictureTransport, type WatchEvent } from '../kube/transport.js';

const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const METADATA_WATCH_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
const FULL_ACCEPT = 'application/json';
const PAGE_SIZE = 500;
// Spread so that the watches of one process do not all reconnect in the same second.
const WATCH_TIMEOUT_MIN_SECONDS = 240;
const WATCH_TIMEOUT_SPREAD_SECONDS = 120;
// A watch that ends this soon without a single event is treated as a failure, so a server that keeps closing at
// once is not hammered.
const QUICK_END_MS = 1000;

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface ResourceWatchDeps {
  transport: PictureTransport;
  index: PictureIndex;
  log: Logger;
  now: () => number;
  backoff: Backoff;
  /** An object of this resource was added, changed or deleted (bookmarks are not changes). */
  onChange(key: string): void;
  /** The first complete list of this resource has arrived. */
  onListed(key: string): void;
}

function uidOf(object: unknown): string {
  return toEntry('', object)?.uid ?? '';
}

function resourceVersionOf(object: unknown): string {
  const metadata = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata;
  return typeof metadata?.resourceVersion === 'string' ? metadata.resourceVersion : '';
}

function abortedError(): Error {
  return new Error('stopped');
}

export class ResourceWatch {
  readonly startedAt: number;
  /** The first complete list has arrived. */
  listed = false;
  /** Last time the API server confirmed this resource current: a list completed, a watch connected, an event. */
  lastConfirmedAt: number | undefined;
  /** The last error, for the log and the status; cleared by the next confirmation. */
  private resourceVersion = '';
  private needList = true;
  private stopped = false;
  private watching = false;
  private idleAborted = false;
  private heardAt = 0;
  private failures = 0;
  private current = new AbortController();
  private readonly stopping = new AbortController();
  private done: Promise<void> = Promise.resolve();

  constructor(
    readonly resource: WatchedResource,
    private readonly deps: ResourceWatchDeps,
  ) {
    this.startedAt = deps.now();
  }

  start(): void {
    this.done = this.run();
  }

  /** Ends the list or watch under way; nothing reaches the index afterwards. */
  stop(): Promise<void> {
    this.stopped = true;
    this.current.abort();
    this.stopping.abort();
    return this.done;
  }

  /** The watchdog: a watch silent for longer than idleMs is dropped and re-established from where it was. */
  abortIfSilent(idleMs: number): void {
    if (!this.watching || this.deps.now() - this.heardAt <= idleMs) return;
    this.idleAborted = true;
    this.current.abort();
  }

  private get full(): boolean {
    return FULL_OBJECT_RESOURCES.has(this.resource.key);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const delayMs = await this.cycle();
      if (delayMs > 0) await this.pause(delayMs);
    }
  }

  /** One list (when needed) and one watch; how long to wait before the next one. */
  private async cycle(): Promise<number> {
    try {
      if (this.needList) await this.list();
      await this.watch();
      return 0;
    } catch (error: unknown) {
      return this.failed(error);
    } finally {
      this.watching = false;
    }
  }

  private failed(error: unknown): number {
    const resource = this.resource.key;
    if (this.stopped) return 0;
    if (this.idleAborted) {
      // Routine, hence debug: the API server's minutely bookmark only goes out once the resource's revision has
      // moved past the watch's, so the watch of a quiet resource falls silent (measured: a third of them per minute).
      this.deps.log.debug({ resource, resourceVersion: this.resourceVersion }, 'watch silent for too long; reconnecting');
      return 0;
    }
    if (isGone(error)) {
      this.deps.log.info({ resource, resourceVersion: this.resourceVersion }, 'resource version expired; listing again');
      this.needList = true;
      return 0;
    }
    this.failures += 1;
    const retryInMs = Math.min(this.deps.backoff.initialMs * 2 ** (this.failures - 1), this.deps.backoff.maxMs);
    const phase = this.watching ? 'watch' : 'list';
    this.deps.log.warn({ resource, phase, retryInMs, err: error }, `${phase} failed; retrying`);
    return retryInMs;
  }

  private async pause(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.stopping.signal });
    } catch {
      // Stopped while waiting: the loop sees it.
    }
  }

  private begin(): AbortSignal {
    if (this.stopped) throw abortedError();
    this.idleAborted = false;
    this.current = new AbortController();
    return this.current.signal;
  }

  private async list(): Promise<void> {
    const signal = this.begin();
    const entries: PictureEntry[] = [];
    let continueToken = '';
    let resourceVersion = '';
    do {
      const accept = this.full ? FULL_ACCEPT : METADATA_LIST_ACCEPT;
      const page = await this.deps.transport.list({ path: this.resource.path, accept, limit: PAGE_SIZE, continueToken, signal });
      if (signal.aborted) throw abortedError();
      for (const item of page.items) {
        const entry = toEntry(this.resource.key, item);
        if (entry !== undefined) entries.push(entry);
      }
      resourceVersion = page.resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken !== '');
    this.deps.index.replaceResource(this.resource.key, entries);
    this.resourceVersion = resourceVersion;
    this.needList = false;
    this.confirm();
    this.deps.log.debug({ resource: this.resource.key, objects: entries.length, resourceVersion }, 'listed');
    if (!this.listed) {
      this.listed = true;
      this.deps.onListed(this.resource.key);
    }
  }

  private async watch(): Promise<void> {
    const signal = this.begin();
    const startedAt = this.deps.now();
    let events = 0;
    this.heardAt = startedAt;
    this.watching = true;
    await this.deps.transport.watch({
      path: this.resource.path,
      accept: this.full ? FULL_ACCEPT : METADATA_WATCH_ACCEPT,
      resourceVersion: this.resourceVersion,
      timeoutSeconds: WATCH_TIMEOUT_MIN_SECONDS + Math.floor(Math.random() * (WATCH_TIMEOUT_SPREAD_SECONDS + 1)),
      signal,
      onConnect: () => {
        if (!signal.aborted) this.confirm();
      },
      onEvent: (event) => {
        if (signal.aborted) return;
        events += 1;
        this.apply(event);
      },
    });
    if (this.idleAborted || signal.aborted) throw abortedError();
    if (events === 0 && this.deps.now() - startedAt < QUICK_END_MS) throw new Error('the watch ended at once without an event');
  }

  private apply(event: WatchEvent): void {
    if (event.type === 'ERROR') throw statusError(event.object, `watch ${this.resource.path}`);
    if (event.type === 'ADDED' || event.type === 'MODIFIED') {
      const entry = toEntry(this.resource.key, event.object);
      if (entry !== undefined) this.deps.index.upsert(entry);
    } else if (event.type === 'DELETED') {
      const uid = uidOf(event.object);
      if (uid !== '') this.deps.index.remove(uid);
    }
    const resourceVersion = resourceVersionOf(event.object);
    if (resourceVersion !== '') this.resourceVersion = resourceVersion;
    this.confirm();
    if (event.type !== 'BOOKMARK') this.deps.onChange(this.resource.key);
  }

  private confirm(): void {
    const now = this.deps.now();
    this.lastConfirmedAt = now;
    this.heardAt = now;
    this.failures = 0;
  }
}
