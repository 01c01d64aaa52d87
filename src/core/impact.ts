// The blast radius of one request, judged at the cascade root: what the namespace controller, the CRD finalizer
// and the garbage collector would remove afterwards, out of the webhook's sight. Pure: reads a PictureView.
import type { AdmissionRequest, KubeObject } from '../admission/types.js';
import { resourceKey, type PictureEntry } from '../picture/entry.js';
import type { PictureView } from '../picture/picture-index.js';

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

/** True when the request's impact can only be known from the cluster picture. */
export function needsPicture(request: AdmissionRequest): boolean {
  return request.operation === 'DELETE';
}

type Propagation = 'Orphan' | 'Background' | 'Foreground';

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

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

/** The set of removed objects, grown the way the garbage collector does it. */
class Removal {
  readonly uids = new Set<string>();
  readonly extra: PictureEntry[] = [];
  private readonly queue: PictureEntry[] = [];

  constructor(private readonly view: PictureView) {}

  add(entry: PictureEntry, cascade: boolean): void {
    if (this.uids.has(entry.uid)) return;
    this.uids.add(entry.uid);
    if (this.view.get(entry.uid) === undefined) this.extra.push(entry);
    // An object with the orphan finalizer leaves its own dependents behind.
    if (cascade && entry.orphans !== true) this.queue.push(entry);
  }

  /** A dependent goes only once none of its owners survives (owners absent from the picture do not hold it). */
  cascade(): void {
    for (let next = this.queue.pop(); next !== undefined; next = this.queue.pop()) {
      for (const dependent of this.view.dependentsOf(next.uid)) {
        if (this.uids.has(dependent.uid)) continue;
        const held = (dependent.owners ?? []).some((owner) => !this.uids.has(owner) && this.view.get(owner) !== undefined);
        if (!held) this.add(dependent, true);
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

function removalOf(request: AdmissionRequest, view: PictureView): Removal {
  const key = resourceKey(request.resource.group, request.resource.resource);
  const removal = new Removal(view);
  const root = view.get(request.oldObject?.metadata?.uid ?? '') ?? rootEntry(request, key);
  if (key === 'namespaces') {
    // The namespace controller deletes everything inside, whatever the propagation asked for the Namespace.
    for (const entry of view.inNamespace(root.name)) removal.add(entry, true);
  }
  if (key === 'customresourcedefinitions.apiextensions.k8s.io') {
    // Custom resources go by a storage-level delete that never reaches admission; their dependents by the GC.
    const crs = customResourceKey(request.oldObject);
    for (const entry of crs === undefined ? [] : view.ofResource(crs)) removal.add(entry, true);
  }
  removal.add(root, propagationOf(request) !== 'Orphan');
  removal.cascade();
  return removal;
}

/** Releasing a bound claim whose volume says Delete destroys the volume too. */
function addReleasedVolumes(removal: Removal, view: PictureView): void {
  const volumes: PictureEntry[] = [];
  for (const entry of removal.entries()) {
    if (entry.claim?.phase !== 'Bound') continue;
    const volume = view.volumeForClaim(`${entry.namespace}/${entry.name}`);
    if (volume?.volume?.reclaimPolicy === 'Delete') volumes.push(volume);
  }
  for (const volume of volumes) removal.add(volume, false);
}

function tally(removal: Removal): Impact {
  const byResource: Record<string, number> = {};
  const impact: Impact = { total: 0, byResource, pods: 0, boundClaims: 0, deletedVolumes: 0, dataBearing: [] };
  const data = (what: string): void => {
    if (impact.dataBearing.length < DATA_NAMES_SHOWN) impact.dataBearing.push(what);
  };
  for (const entry of removal.entries()) {
    impact.total += 1;
    byResource[entry.resource] = (byResource[entry.resource] ?? 0) + 1;
    if (entry.resource === 'pods') impact.pods += 1;
    if (entry.claim?.phase === 'Bound') {
      impact.boundClaims += 1;
      data(`persistentvolumeclaims ${entry.namespace}/${entry.name}`);
    }
    if (entry.volume?.reclaimPolicy === 'Delete') {
      impact.deletedVolumes += 1;
      data(`persistentvolumes ${entry.name}`);
    }
  }
  return impact;
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

/** The request's blast radius. `view` is needed only when needsPicture(request). */
export function computeImpact(request: AdmissionRequest, view: PictureView | undefined): Impact {
  if (!needsPicture(request)) return scaleDown(request);
  if (view === undefined) throw new Error('computeImpact: a DELETE needs the cluster picture');
  const removal = removalOf(request, view);
  addReleasedVolumes(removal, view);
  return tally(removal);
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
