// The blast radius of one request, judged at the cascade root: what the namespace controller, the CRD finalizer
// and the garbage collector would remove afterwards, out of the webhook's sight. Pure: reads a PictureView.
import type { AdmissionRequest, KubeObject } from '../kube/types.js';
import { CRD_RESOURCE, ownerUids, resourceKey, text, type PictureEntry } from './picture-view/entry.js';
import type { PictureView } from './picture-view/picture-index.js';

export interface Impact {
  /** Objects removed, the request's own object included. */
  total: number;
  byResource: Record<string, number>;
  /** Pods that would stop: pods removed, or replicas taken away by a scale-down. */
  pods: number;
  /** Bound PersistentVolumeClaims removed. */
  boundClaims: number;
  /** PersistentVolumes removed, or released with reclaim policy Delete: their data is destroyed. */
  deletedVolumes: number;
  /** The data-bearing objects by name (`persistentvolumeclaims shop/data-0`), at most DATA_NAMES_SHOWN. */
  dataBearing: string[];
}

const DATA_NAMES_SHOWN = 20;

export const NO_IMPACT: Impact = Object.freeze({ total: 0, byResource: {}, pods: 0, boundClaims: 0, deletedVolumes: 0, dataBearing: [] });

/**
 * An UPDATE that rewrites ownerReferences: pointed at owners that do not exist, it makes the garbage collector
 * delete the object (and its dependents) with no DELETE ever reaching admission.
 */
function changesOwners(request: AdmissionRequest): boolean {
  return request.operation === 'UPDATE' && (request.subResource ?? '') === '' &&
    ownerUids(request.object?.metadata?.ownerReferences).join(',') !== ownerUids(request.oldObject?.metadata?.ownerReferences).join(',');
}

/** True when the request's cascade (its blast radius) can only be known from the cluster picture. */
export function cascadeNeedsPicture(request: AdmissionRequest): boolean {
  return request.operation === 'DELETE' || changesOwners(request);
}

type Propagation = 'Orphan' | 'Background' | 'Foreground';

/** The propagation the apiserver will apply: explicit option, legacy flag, the object's finalizer, the kind's default. */
export function propagationOf(request: AdmissionRequest): Propagation {
  const explicit = text(request.options?.propagationPolicy);
  if (explicit === 'Orphan' || explicit === 'Background' || explicit === 'Foreground') return explicit;
  const legacy = request.options?.orphanDependents;
  if (typeof legacy === 'boolean') return legacy ? 'Orphan' : 'Background';
  const finalizers: unknown = request.oldObject?.metadata?.finalizers;
  if (Array.isArray(finalizers) && finalizers.includes('orphan')) return 'Orphan';
  // core/v1 ReplicationControllers orphan by default, for compatibility with the days before server-side GC.
  const { group, version, resource } = request.resource;
  if (group === '' && version === 'v1' && resource === 'replicationcontrollers') return 'Orphan';
  return 'Background';
}

/**
 * The set of removed objects, grown the way the garbage collector does it. A dependent's own `orphan` finalizer
 * keeps its dependents in place under Background propagation; under Foreground the collector deletes dependents
 * with an explicit Foreground policy, which overrides it.
 */
class Removal {
  readonly uids = new Set<string>();
  readonly extra: PictureEntry[] = [];
  private readonly queue: PictureEntry[] = [];

  constructor(private readonly view: PictureView, private readonly foreground: boolean) {}

  /** The request's own object: its propagation (explicit, or its finalizer's) was already settled by the caller. */
  addRoot(entry: PictureEntry, cascade: boolean): void {
    this.insert(entry, cascade);
  }

  add(entry: PictureEntry): void {
    this.insert(entry, this.foreground || entry.orphans !== true);
  }

  private insert(entry: PictureEntry, cascade: boolean): void {
    if (this.uids.has(entry.uid)) return;
    this.uids.add(entry.uid);
    if (this.view.get(entry.uid) === undefined) this.extra.push(entry);
    if (cascade) this.queue.push(entry);
  }

  /** A dependent goes only once none of its owners survives (owners absent from the picture do not hold it). */
  cascade(): void {
    for (let next = this.queue.pop(); next !== undefined; next = this.queue.pop()) {
      for (const dependent of this.view.dependentsOf(next.uid)) {
        if (this.uids.has(dependent.uid)) continue;
        const held = (dependent.owners ?? []).some((owner) => !this.uids.has(owner) && this.view.get(owner) !== undefined);
        if (!held) this.add(dependent);
      }
    }
  }

  *entries(): Iterable<PictureEntry> {
    for (const uid of this.uids) {
      const entry = this.view.get(uid);
      if (entry !== undefined) yield entry;
    }
    yield* this.extra;
  }
}

function rootEntry(request: AdmissionRequest, key: string): PictureEntry {
  const metadata = request.oldObject?.metadata ?? {};
  const uid = metadata.uid ?? `${key}/${request.namespace ?? ''}/${metadata.name ?? request.name ?? ''}`;
  return { uid, resource: key, namespace: metadata.namespace ?? '', name: metadata.name ?? request.name ?? '' };
}

function customResourceKey(crd: KubeObject | null | undefined): string | undefined {
  const spec = (crd as { spec?: { group?: unknown; names?: { plural?: unknown } } } | null | undefined)?.spec;
  const group = text(spec?.group);
  const plural = text(spec?.names?.plural);
  return group === '' || plural === '' ? undefined : resourceKey(group, plural);
}

/** A delete of one object (or a CRD with its custom resources), grown through ownerReferences. */
function cascadeOf(request: AdmissionRequest, root: PictureEntry, view: PictureView): Removal {
  const propagation = propagationOf(request);
  const removal = new Removal(view, propagation === 'Foreground');
  if (root.resource === CRD_RESOURCE) {
    // Custom resources go by a storage-level delete that never reaches admission; their dependents by the GC.
    const crs = customResourceKey(request.oldObject);
    for (const entry of crs === undefined ? [] : view.ofResource(crs)) removal.add(entry);
  }
  removal.addRoot(root, propagation !== 'Orphan');
  removal.cascade();
  return removal;
}

/** What is removed, as counts plus the data-bearing objects by name. */
interface Removed {
  counts: Map<string, number>;
  boundClaims: PictureEntry[];
  volumes: PictureEntry[];
}

/** Releasing a bound claim whose volume says Delete destroys the volume too. */
function releasedVolumes(claims: readonly PictureEntry[], view: PictureView, already: (uid: string) => boolean): PictureEntry[] {
  const volumes: PictureEntry[] = [];
  for (const claim of claims) {
    const volume = view.volumeForClaim(`${claim.namespace}/${claim.name}`);
    if (volume?.volume?.reclaimPolicy === 'Delete' && !already(volume.uid)) volumes.push(volume);
  }
  return volumes;
}

function removedByCascade(removal: Removal, view: PictureView): Removed {
  const removed: Removed = { counts: new Map(), boundClaims: [], volumes: [] };
  for (const entry of removal.entries()) {
    removed.counts.set(entry.resource, (removed.counts.get(entry.resource) ?? 0) + 1);
    if (entry.claim?.phase === 'Bound') removed.boundClaims.push(entry);
    if (entry.volume?.reclaimPolicy === 'Delete') removed.volumes.push(entry);
  }
  return withReleasedVolumes(removed, view, (uid) => removal.uids.has(uid));
}

/**
 * A namespace: the namespace controller deletes everything inside whatever the propagation, and ownerReferences
 * cannot leave a namespace, so the index's per-namespace counts are the answer without walking 100 k objects.
 */
function removedWithNamespace(root: PictureEntry, view: PictureView): Removed {
  const counts = new Map(view.countsInNamespace(root.name));
  counts.set(root.resource, (counts.get(root.resource) ?? 0) + 1);
  const boundClaims = [...view.inNamespaceOf(root.name, 'persistentvolumeclaims')].filter((claim) => claim.claim?.phase === 'Bound');
  return withReleasedVolumes({ counts, boundClaims, volumes: [] }, view, () => false);
}

function withReleasedVolumes(removed: Removed, view: PictureView, already: (uid: string) => boolean): Removed {
  for (const volume of releasedVolumes(removed.boundClaims, view, already)) {
    removed.counts.set(volume.resource, (removed.counts.get(volume.resource) ?? 0) + 1);
    removed.volumes.push(volume);
  }
  return removed;
}

function tally({ counts, boundClaims, volumes }: Removed): Impact {
  const byResource: Record<string, number> = {};
  let total = 0;
  for (const [resource, count] of counts) {
    byResource[resource] = count;
    total += count;
  }
  // Sorted: the impact is part of an approval's digest, and watch events reorder the index's sets.
  const dataBearing = [
    ...boundClaims.map((claim) => `persistentvolumeclaims ${claim.namespace}/${claim.name}`).sort(),
    ...volumes.map((volume) => `persistentvolumes ${volume.name}`).sort(),
  ].slice(0, DATA_NAMES_SHOWN);
  return { total, byResource, pods: counts.get('pods') ?? 0, boundClaims: boundClaims.length, deletedVolumes: volumes.length, dataBearing };
}

function replicasOf(object: KubeObject | null | undefined, missing: number): number {
  const value = (object as { spec?: { replicas?: unknown } } | null | undefined)?.spec?.replicas;
  return typeof value === 'number' ? value : missing;
}

/** Replicas a scale-down takes away, from the request alone. */
function scaleDown(request: AdmissionRequest): Impact {
  if (request.operation !== 'UPDATE') return NO_IMPACT;
  // A Scale omits `replicas: 0` (seen on the real apiserver); a workload without replicas means 1.
  const missing = request.subResource === 'scale' ? 0 : 1;
  const removed = replicasOf(request.oldObject, missing) - replicasOf(request.object, missing);
  if (!(removed > 0)) return NO_IMPACT;
  return { ...NO_IMPACT, total: removed, byResource: { pods: removed }, pods: removed, dataBearing: [] };
}

/** The object deleted by the garbage collector once an UPDATE leaves it only owners that do not exist. */
function danglingOwnersImpact(request: AdmissionRequest, view: PictureView): Impact {
  const owners = ownerUids(request.object?.metadata?.ownerReferences);
  if (owners.length === 0 || owners.some((uid) => view.get(uid) !== undefined)) return NO_IMPACT;
  const key = resourceKey(request.resource.group, request.resource.resource);
  const root = { ...(view.get(request.oldObject?.metadata?.uid ?? '') ?? rootEntry(request, key)), owners };
  const finalizers: unknown = request.object?.metadata?.finalizers;
  const orphans = Array.isArray(finalizers) && finalizers.includes('orphan');
  const removal = new Removal(view, false);
  removal.addRoot(root, !orphans);
  removal.cascade();
  return tally(removedByCascade(removal, view));
}

/**
 * What the request removes through the apiserver and the garbage collector: a DELETE's cascade, or the object an
 * UPDATE leaves with only missing owners. `view` is needed only when cascadeNeedsPicture(request).
 */
export function cascadeImpact(request: AdmissionRequest, view: PictureView | undefined): Impact {
  if (!cascadeNeedsPicture(request)) return NO_IMPACT;
  if (view === undefined) throw new Error('cascadeImpact: this request needs the cluster picture');
  if (request.operation === 'UPDATE') return danglingOwnersImpact(request, view);
  const key = resourceKey(request.resource.group, request.resource.resource);
  const root = view.get(request.oldObject?.metadata?.uid ?? '') ?? rootEntry(request, key);
  if (key === 'namespaces') return tally(removedWithNamespace(root, view));
  return tally(removedByCascade(cascadeOf(request, root, view), view));
}

/** The request's blast radius: its cascade, or for a scale-down the pods it stops. */
export function computeImpact(request: AdmissionRequest, view: PictureView | undefined): Impact {
  const cascade = cascadeImpact(request, view);
  return cascade.total > 0 || request.operation === 'DELETE' ? cascade : scaleDown(request);
}

/** What removing exactly these objects takes away (no cascade), the volumes their claims' release destroys included. */
export function impactOfObjects(entries: Iterable<PictureEntry>, view: PictureView): Impact {
  const removed: Removed = { counts: new Map(), boundClaims: [], volumes: [] };
  const uids = new Set<string>();
  for (const entry of entries) {
    if (uids.has(entry.uid)) continue;
    uids.add(entry.uid);
    removed.counts.set(entry.resource, (removed.counts.get(entry.resource) ?? 0) + 1);
    if (entry.claim?.phase === 'Bound') removed.boundClaims.push(entry);
    if (entry.volume !== undefined && entry.volume.reclaimPolicy !== 'Retain') removed.volumes.push(entry);
  }
  return tally(withReleasedVolumes(removed, view, (uid) => uids.has(uid)));
}

/** Two removals together (they come from different causes, so nothing is counted twice). */
export function addImpacts(a: Impact, b: Impact): Impact {
  if (b.total === 0) return a;
  if (a.total === 0) return b;
  const byResource: Record<string, number> = { ...a.byResource };
  for (const [resource, n] of Object.entries(b.byResource)) byResource[resource] = (byResource[resource] ?? 0) + n;
  return {
    total: a.total + b.total, byResource, pods: a.pods + b.pods, boundClaims: a.boundClaims + b.boundClaims,
    deletedVolumes: a.deletedVolumes + b.deletedVolumes, dataBearing: [...a.dataBearing, ...b.dataBearing].slice(0, DATA_NAMES_SHOWN),
  };
}

/** One line for messages: `52 objects (30 configmaps, 20 pods, 2 persistentvolumeclaims); 2 bound volumes`. */
export function describeImpact(impact: Impact): string {
  const parts = Object.entries(impact.byResource)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([resource, n]) => `${String(n)} ${resource}`);
  const shown = parts.length > 6 ? [...parts.slice(0, 6), `${String(parts.length - 6)} more kinds`] : parts;
  const noun = impact.total === 1 ? 'object' : 'objects';
  let line = `${String(impact.total)} ${noun}${shown.length > 0 ? ` (${shown.join(', ')})` : ''}`;
  if (impact.boundClaims + impact.deletedVolumes > 0) {
    line += `; data: ${String(impact.boundClaims)} bound claims, ${String(impact.deletedVolumes)} volumes deleted`;
  }
  return line;
}
