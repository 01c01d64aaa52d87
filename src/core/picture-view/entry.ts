// What the cluster picture keeps of each object: identity, place and ownership, plus the few facts impact needs.
// Everything else is dropped at the edge, so a cached object costs a few hundred bytes whatever its size.

/** Facts about a PersistentVolumeClaim: a bound claim holds data. */
export interface ClaimFacts {
  phase: string;
  volumeName: string;
}

/** Facts about a PersistentVolume: with reclaim policy Delete, releasing its claim destroys the data. */
export interface VolumeFacts {
  reclaimPolicy: string;
  /** `namespace/name` of the claim it is bound to, '' when none. */
  claim: string;
}

/** Facts about a StatefulSet: a Scale carries only replicas, but its claims go by the set's retention policy. */
export interface StatefulSetFacts {
  /** persistentVolumeClaimRetentionPolicy.whenScaled, `Retain` when unset. */
  whenScaled: string;
  /** The names of its volumeClaimTemplates: claims are `<template>-<set>-<ordinal>`. */
  claimTemplates: readonly string[];
  /** spec.ordinals.start: its pods are ordinals [start, start + replicas). */
  ordinalsStart: number;
}

export interface PictureEntry {
  uid: string;
  /** `plural` for the core group, `plural.group` otherwise: `pods`, `deployments.apps`, `widgets.example.com`. */
  resource: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  /** uids of the owners named in ownerReferences; absent when there are none. */
  owners?: readonly string[];
  /** The object carries the `orphan` finalizer: deleting it leaves its dependents in place. */
  orphans?: true;
  claim?: ClaimFacts;
  volume?: VolumeFacts;
  statefulSet?: StatefulSetFacts;
}

export const CRD_RESOURCE = 'customresourcedefinitions.apiextensions.k8s.io';
export const STATEFULSETS = 'statefulsets.apps';

/** The cluster picture's resource key for a group and plural resource name. */
export function resourceKey(group: string, resource: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

interface MetadataLike {
  uid?: unknown;
  name?: unknown;
  namespace?: unknown;
  ownerReferences?: unknown;
  finalizers?: unknown;
}

/** A JSON value as a string, '' when it is not one. */
export function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/** The uids an `ownerReferences` list names (entries without one skipped). */
export function ownerUids(references: unknown): string[] {
  if (!Array.isArray(references)) return [];
  return references.map((ref: unknown) => text((ref as { uid?: unknown } | null)?.uid)).filter((uid) => uid !== '');
}

/** A nested JSON field, undefined where the path leaves objects. */
export function field(object: unknown, ...path: string[]): unknown {
  let at: unknown = object;
  for (const key of path) at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  return at;
}

function claimFacts(object: unknown): ClaimFacts {
  return { phase: text(field(object, 'status', 'phase')), volumeName: text(field(object, 'spec', 'volumeName')) };
}

function volumeFacts(object: unknown): VolumeFacts {
  const namespace = text(field(object, 'spec', 'claimRef', 'namespace'));
  const name = text(field(object, 'spec', 'claimRef', 'name'));
  return { reclaimPolicy: text(field(object, 'spec', 'persistentVolumeReclaimPolicy')), claim: name === '' ? '' : `${namespace}/${name}` };
}

function statefulSetFacts(object: unknown): StatefulSetFacts {
  const templates = field(object, 'spec', 'volumeClaimTemplates');
  return {
    whenScaled: text(field(object, 'spec', 'persistentVolumeClaimRetentionPolicy', 'whenScaled')) || 'Retain',
    claimTemplates: (Array.isArray(templates) ? templates : []).map((t: unknown) => text(field(t, 'metadata', 'name'))).filter((n) => n !== ''),
    ordinalsStart: typeof field(object, 'spec', 'ordinals', 'start') === 'number' ? Number(field(object, 'spec', 'ordinals', 'start')) : 0,
  };
}

/** Reduces an object (full or PartialObjectMetadata) to its picture entry; undefined when it has no uid. */
export function toEntry(resource: string, object: unknown): PictureEntry | undefined {
  const metadata = (field(object, 'metadata') ?? {}) as MetadataLike;
  const uid = text(metadata.uid);
  if (uid === '') return undefined;
  const entry: PictureEntry = { uid, resource, namespace: text(metadata.namespace), name: text(metadata.name) };
  const owners = ownerUids(metadata.ownerReferences);
  if (owners.length > 0) entry.owners = owners;
  if (Array.isArray(metadata.finalizers) && metadata.finalizers.includes('orphan')) entry.orphans = true;
  if (resource === 'persistentvolumeclaims') entry.claim = claimFacts(object);
  if (resource === 'persistentvolumes') entry.volume = volumeFacts(object);
  if (resource === STATEFULSETS) entry.statefulSet = statefulSetFacts(object);
  return entry;
}

/** Resources whose impact facts live outside metadata: they are watched in full, every other one as metadata. */
export const FULL_OBJECT_RESOURCES: ReadonlySet<string> = new Set(['persistentvolumeclaims', 'persistentvolumes', STATEFULSETS]);
