// The live cluster picture: every resource the API server serves that can be listed, watched and deleted, kept in a
// PictureIndex by one list-then-watch loop per resource (resource-watch.ts). Which resources those are is
// discovered again periodically and shortly after any CRD changes, so custom resources defined later are followed
// and the ones that go away are dropped. Requires Kubernetes 1.30 or later (aggregated discovery v2).
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ClusterPicture, PictureStatus } from './cluster-picture.js';
import { readDiscovery, type DiscoveredResources, type WatchedResource } from './discovery.js';
import { httpsTransport } from '../kube/https-transport.js';
import { PictureIndex, type PictureView } from '../core/picture-view/picture-index.js';
import { pictureStatus } from './picture-status.js';
import type { PictureTransport } from '../kube/transport.js';
import { ResourceWatch, type Backoff } from './resource-watch.js';
import { CRD_RESOURCE } from '../core/picture-view/entry.js';


export interface KubePictureOptions {
  /** Resource keys never watched (`resourceKey(group, plural)`): high churn, and nothing depends on them. */
  exclude?: readonly string[];
  rediscoverySeconds?: number;
  /**
   * A watch silent this long is re-established, which also confirms the resource current. The API server sends a
   * bookmark about once a minute, but only when the resource's revision has moved on; a quiet one stays silent.
   * Kept below staleAfterSeconds so that a healthy but quiet resource never counts as stale.
   */
  idleRestartSeconds?: number;
  /** A resource not confirmed current for this long makes the picture not ready. */
  staleAfterSeconds?: number;
  watchdogSeconds?: number;
  /** Delay between a CRD event and the discovery it triggers, so a burst of CRD changes costs one discovery. */
  crdSettleMs?: number;
  backoff?: Backoff;
  now?: () => number;
  transport?: PictureTransport;
}

export const KUBE_PICTURE_DEFAULTS = {
  exclude: ['events', 'events.events.k8s.io', 'leases.coordination.k8s.io'],
  rediscoverySeconds: 30,
  idleRestartSeconds: 70,
  staleAfterSeconds: 120,
  watchdogSeconds: 5,
  crdSettleMs: 1000,
  backoff: { initialMs: 1000, maxMs: 30_000 },
} as const satisfies KubePictureOptions;

export interface KubePicture extends ClusterPicture {
  /** Discovers now and applies the result (the timers call it too); concurrent calls share one run. */
  rediscover(): Promise<void>;
  /** One watchdog round (its timer calls it too). */
  tick(): void;
}

type Settings = Required<Omit<KubePictureOptions, 'exclude' | 'transport'>> & { exclude: ReadonlySet<string> };

function settingsOf(options: KubePictureOptions): Settings {
  const defaults = KUBE_PICTURE_DEFAULTS;
  return {
    exclude: new Set(options.exclude ?? defaults.exclude),
    rediscoverySeconds: options.rediscoverySeconds ?? defaults.rediscoverySeconds,
    idleRestartSeconds: options.idleRestartSeconds ?? defaults.idleRestartSeconds,
    staleAfterSeconds: options.staleAfterSeconds ?? defaults.staleAfterSeconds,
    watchdogSeconds: options.watchdogSeconds ?? defaults.watchdogSeconds,
    crdSettleMs: options.crdSettleMs ?? defaults.crdSettleMs,
    backoff: options.backoff ?? defaults.backoff,
    now: options.now ?? Date.now,
  };
}

function sameResource(a: WatchedResource, b: WatchedResource): boolean {
  return a.path === b.path && a.group === b.group;
}

class LivePicture implements KubePicture {
  readonly index = new PictureIndex();
  private readonly watches = new Map<string, ResourceWatch>();
  private readonly stopping = new Set<Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();
  private readonly createdAt: number;
  private discovered = false;
  /** Groups the last discovery could not describe: their objects may be missing from the picture. */
  private unknownGroups: readonly string[] = [];
  private discoveryError: string | undefined;
  private discoveryFailures = 0;
  private discovering: Promise<void> | undefined;
  private discoverAgain = false;
  private crdTimer: NodeJS.Timeout | undefined;
  private synced = false;

  constructor(
    private readonly transport: PictureTransport,
    private readonly log: Logger,
    private readonly settings: Settings,
  ) {
    this.createdAt = settings.now();
  }

  get view(): PictureView {
    return this.index;
  }

  start(): void {
    this.every(this.settings.rediscoverySeconds, () => void this.rediscover());
    this.every(this.settings.watchdogSeconds, () => { this.tick(); });
    void this.rediscover();
  }

  rediscover(): Promise<void> {
    if (this.discovering !== undefined) {
      this.discoverAgain = true;
      return this.discovering;
    }
    this.discovering = this.discoverWhileAsked();
    return this.discovering;
  }

  tick(): void {
    for (const watch of this.watches.values()) watch.abortIfSilent(this.settings.idleRestartSeconds * 1000);
  }

  status(): PictureStatus {
    const resources = [...this.watches.values()].map((watch) => ({
      key: watch.resource.key,
      listed: watch.listed,
      lastConfirmedAt: watch.lastConfirmedAt,
      startedAt: watch.startedAt,
    }));
    const status = pictureStatus({
      discovered: this.discovered,
      discoveryError: this.discoveryError,
      resources,
      objects: this.index.size,
      now: this.settings.now(),
      staleAfterMs: this.settings.staleAfterSeconds * 1000,
    });
    return this.unknownGroups.length === 0 ? status : { ...status, unknownGroups: this.unknownGroups };
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.crdTimer !== undefined) clearTimeout(this.crdTimer);
    const watches = [...this.watches.values()];
    this.watches.clear();
    await Promise.all([...watches.map((watch) => watch.stop()), ...this.stopping, this.discovering]);
  }

  private get closed(): boolean {
    return this.closing.signal.aborted;
  }

  private every(seconds: number, run: () => void): void {
    const timer = setInterval(run, seconds * 1000);
    // The picture never keeps a process alive on its own; the server's socket does that.
    timer.unref();
    this.timers.add(timer);
  }

  private async discoverWhileAsked(): Promise<void> {
    for (let again = true; again; again = this.askedAgain()) await this.discoverOnce();
  }

  /** Whether rediscover() was called while the last run was under way (its answer may predate the reason). */
  private askedAgain(): boolean {
    const again = this.discoverAgain && !this.closed;
    this.discoverAgain = false;
    // Cleared in the same step as the last check, so a call from now on starts a run of its own.
    if (!again) this.discovering = undefined;
    return again;
  }

  private async discoverOnce(): Promise<void> {
    try {
      const found = readDiscovery(await this.transport.discover(this.closing.signal), this.settings.exclude);
      if (this.closed) return;
      this.apply(found);
      this.discovered = true;
      this.discoveryError = undefined;
      this.discoveryFailures = 0;
      this.logIfSynced();
    } catch (error: unknown) {
      if (this.closed) return;
      this.discoveryError = error instanceof Error ? error.message : String(error);
      this.discoveryFailures += 1;
      this.log.warn({ err: error, failures: this.discoveryFailures }, 'API discovery failed; keeping the resources already watched');
      // Until the first discovery has worked the picture has nothing, so it tries sooner than the period.
      if (!this.discovered) this.retryDiscovery();
    }
  }

  private retryDiscovery(): void {
    const { initialMs, maxMs } = this.settings.backoff;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.rediscover();
    }, Math.min(initialMs * 2 ** (this.discoveryFailures - 1), maxMs));
    timer.unref();
    this.timers.add(timer);
  }

  private apply(found: DiscoveredResources): void {
    const wanted = new Map(found.resources.map((resource) => [resource.key, resource]));
    const staleGroups = new Set(found.staleGroups);
    this.unknownGroups = [...found.staleGroups].sort();
    const dropped: string[] = [];
    for (const [key, watch] of this.watches) {
      const next = wanted.get(key);
      if (next !== undefined ? sameResource(next, watch.resource) : staleGroups.has(watch.resource.group)) continue;
      this.retire(watch);
      if (next === undefined) {
        this.index.dropResource(key);
        dropped.push(key);
      }
    }
    const added = found.resources.filter((resource) => !this.watches.has(resource.key));
    for (const resource of added) this.follow(resource);
    if (found.staleGroups.length > 0) this.log.warn({ groups: found.staleGroups }, 'API groups not discoverable (an aggregated API server not answering?); their resources are not followed anew');
    if (added.length > 0 || dropped.length > 0) {
      this.log.info({ added: added.map((resource) => resource.key), dropped, resources: this.watches.size }, 'watched resources changed');
    }
  }

  private follow(resource: WatchedResource): void {
    const watch = new ResourceWatch(resource, {
      transport: this.transport,
      index: this.index,
      log: this.log,
      now: this.settings.now,
      backoff: this.settings.backoff,
      onChange: (key) => { if (key === CRD_RESOURCE) this.crdChanged(); },
      onListed: () => { this.logIfSynced(); },
    });
    this.watches.set(resource.key, watch);
    watch.start();
  }

  private retire(watch: ResourceWatch): void {
    this.watches.delete(watch.resource.key);
    const stopped = watch.stop().finally(() => this.stopping.delete(stopped));
    this.stopping.add(stopped);
  }

  private crdChanged(): void {
    if (this.closed || this.crdTimer !== undefined) return;
    this.crdTimer = setTimeout(() => {
      this.crdTimer = undefined;
      void this.rediscover();
    }, this.settings.crdSettleMs);
    this.crdTimer.unref();
  }

  private logIfSynced(): void {
    if (this.synced || !this.discovered || [...this.watches.values()].some((watch) => !watch.listed)) return;
    this.synced = true;
    const ms = this.settings.now() - this.createdAt;
    this.log.info({ objects: this.index.size, resources: this.watches.size, ms }, 'cluster picture synced');
  }
}

/** A picture filled and kept current from the API server the KubeConfig names. */
export function kubePicture(kc: KubeConfig, log: Logger, options: KubePictureOptions = {}): KubePicture {
  const picture = new LivePicture(options.transport ?? httpsTransport(kc), log, settingsOf(options));
  picture.start();
  return picture;
}
