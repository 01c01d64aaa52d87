// Removals a controller carries out because of an UPDATE: the StatefulSet controller deleting claims, the volume
// controller releasing or deleting a volume, the TTL and CronJob controllers deleting Jobs, a pending deletion let
// through by a removed finalizer, custom resources made unreachable with their version. Pure: reads a PictureView.
import type { AdmissionRequest } from '../../kube/types.js';
import { CRD_RESOURCE, field, resourceKey, STATEFULSETS, text, type PictureEntry, type StatefulSetFacts } from '../picture-view/entry.js';
import type { PictureView } from '../picture-view/picture-index.js';
import { addImpacts, computeImpact, impactOfObjects, NO_IMPACT, type Impact } from '../impact.js';
import { condemnedOrdinals } from './pods.js';
import { num } from './json-compare.js';
import type { Removes } from './types.js';
import { present } from '../../kube/present.js';


function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function isDeleting(request: AdmissionRequest): boolean {
  return text(field(request.oldObject, 'metadata', 'deletionTimestamp')) !== '';
}

/** Finalizers an UPDATE takes away (metadata.finalizers, or a Namespace's spec.finalizers through `finalize`). */
function removedFinalizers(request: AdmissionRequest): string[] {
  const path = request.resource.resource === 'namespaces' && request.subResource === 'finalize' ? ['spec', 'finalizers'] : ['metadata', 'finalizers'];
  const after = new Set(strings(field(request.object, ...path)));
  return strings(field(request.oldObject, ...path)).filter((f) => !after.has(f));
}

/** One object removed for a cause: the picture's objects it removes, or, when the picture lacks them, a count. */
interface Found {
  entries: readonly PictureEntry[];
  /** What is removed that the picture does not hold (a Job not yet seen): counted as is. */
  unseen?: Impact;
  cause: string;
}

const retention = (of: unknown, when: string): string => text(field(of, 'spec', 'persistentVolumeClaimRetentionPolicy', when)) || 'Retain';

function claimTemplates(of: unknown): string[] {
  const templates = field(of, 'spec', 'volumeClaimTemplates');
  return (Array.isArray(templates) ? templates : []).map((t: unknown) => text(field(t, 'metadata', 'name'))).filter((n) => n !== '');
}

interface OrdinalClaim {
  claim: PictureEntry;
  ordinal: number;
}

/** The set's claims in the picture, by the StatefulSet controller's naming: `<template>-<set>-<ordinal>`. */
function claimsOfSet(request: AdmissionRequest, templates: readonly string[], view: PictureView): OrdinalClaim[] {
  const prefixes = templates.map((base) => `${base}-${request.name ?? ''}-`);
  const claims: OrdinalClaim[] = [];
  for (const claim of view.inNamespaceOf(request.namespace ?? '', 'persistentvolumeclaims')) {
    const prefix = prefixes.find((p) => claim.name.startsWith(p));
    const ordinal = prefix === undefined ? NaN : Number(claim.name.slice(prefix.length));
    if (Number.isInteger(ordinal) && ordinal >= 0) claims.push({ claim, ordinal });
  }
  return claims;
}

const names = (claims: readonly OrdinalClaim[]): string => claims.map((c) => c.claim.name).sort().join(', ');

function statefulSetFactsOf(request: AdmissionRequest, view: PictureView): StatefulSetFacts | undefined {
  // A Scale carries replicas only: the set's retention policy and claim templates come from the picture.
  if (request.subResource === 'scale') return [...view.inNamespaceOf(request.namespace ?? '', STATEFULSETS)].find((e) => e.name === request.name)?.statefulSet;
  const start = field(request.object, 'spec', 'ordinals', 'start');
  return { whenScaled: retention(request.object, 'whenScaled'), claimTemplates: claimTemplates(request.object), ordinalsStart: typeof start === 'number' ? start : 0 };
}

/** Claims a retention policy newly set to Delete takes: those of ordinals the set no longer runs, or all of them. */
function retentionRemovals(request: AdmissionRequest, claims: readonly OrdinalClaim[]): Found[] {
  const found: Found[] = [];
  const start = field(request.object, 'spec', 'ordinals', 'start');
  const from = typeof start === 'number' ? start : 0;
  const replicas = field(request.object, 'spec', 'replicas');
  const to = from + (typeof replicas === 'number' ? replicas : 1);
  if (retention(request.object, 'whenScaled') === 'Delete' && retention(request.oldObject, 'whenScaled') !== 'Delete') {
    // Claims already left behind by earlier scale-downs are deleted as soon as the policy says so.
    const left = claims.filter((c) => c.ordinal < from || c.ordinal >= to);
    found.push({ entries: left.map((c) => c.claim), cause: 'sets whenScaled: Delete, so every scale-down deletes its claims' });
  }
  if (retention(request.object, 'whenDeleted') === 'Delete' && retention(request.oldObject, 'whenDeleted') !== 'Delete') {
    found.push({ entries: claims.map((c) => c.claim), cause: 'sets whenDeleted: Delete, so deleting the StatefulSet deletes its claims' });
  }
  return found;
}

function statefulSetRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  const facts = statefulSetFactsOf(request, view);
  if (facts === undefined) return [];
  const claims = claimsOfSet(request, facts.claimTemplates, view);
  const found: Found[] = [];
  if (facts.whenScaled === 'Delete') {
    const gone = new Set(condemnedOrdinals(request, facts.ordinalsStart));
    const lost = claims.filter((c) => gone.has(c.ordinal));
    const moved = field(request.oldObject, 'spec', 'ordinals', 'start') !== field(request.object, 'spec', 'ordinals', 'start');
    const how = request.subResource !== 'scale' && moved ? 'moving its ordinals' : 'scaling down';
    if (lost.length > 0) found.push({ entries: lost.map((c) => c.claim), cause: `${how} deletes claims ${names(lost)} (retention policy whenScaled: Delete)` });
  }
  return request.subResource === 'scale' ? found : [...found, ...retentionRemovals(request, claims)];
}

function volumeRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  const entry = view.get(text(field(request.oldObject, 'metadata', 'uid')));
  const reclaim = (of: unknown): string => text(field(of, 'spec', 'persistentVolumeReclaimPolicy')) || 'Retain';
  const claimOf = (of: unknown): string => ['namespace', 'name', 'uid'].map((k) => text(field(of, 'spec', 'claimRef', k))).join('/');
  const name = request.name ?? '';
  const volume: PictureEntry = { ...(entry ?? { uid: `persistentvolumes/${name}`, resource: 'persistentvolumes', namespace: '', name }), volume: { reclaimPolicy: reclaim(request.object), claim: '' } };
  const found: Found[] = [];
  if (reclaim(request.oldObject) === 'Retain' && reclaim(request.object) !== 'Retain') {
    found.push({ entries: [volume], cause: `reclaim policy ${reclaim(request.object)}: volume ${name}'s data is destroyed when its claim goes` });
  }
  const before = claimOf(request.oldObject);
  if (before !== '//' && before !== claimOf(request.object)) {
    const [namespace = '', claimName = ''] = before.split('/');
    const claim = [...view.inNamespaceOf(namespace, 'persistentvolumeclaims')].find((c) => c.name === claimName);
    const lost = [...(claim === undefined ? [] : [claim]), ...(reclaim(request.object) === 'Retain' ? [] : [volume])];
    found.push({ entries: lost.length === 0 ? [volume] : lost, cause: `changes the claim of volume ${name}: claim ${namespace}/${claimName} loses its data${reclaim(request.object) === 'Retain' ? '' : ' and the released volume is reclaimed'}` });
  }
  return found;
}

function jobRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  const ttl = num(field(request.object, 'spec', 'ttlSecondsAfterFinished'));
  const old = num(field(request.oldObject, 'spec', 'ttlSecondsAfterFinished'));
  if (ttl === undefined || (old !== undefined && ttl >= old)) return [];
  const job = view.get(text(field(request.oldObject, 'metadata', 'uid')));
  const entries = job === undefined ? [] : [job, ...view.dependentsOf(job.uid)];
  const unseen = entries.length === 0 ? { ...NO_IMPACT, total: 1, byResource: { 'jobs.batch': 1 } } : undefined;
  return [{ entries, ...present({ unseen }), cause: `ttlSecondsAfterFinished ${String(ttl)}: the TTL controller deletes job ${request.namespace ?? ''}/${request.name ?? ''} and its pods once finished` }];
}

function cronJobRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  const limit = (of: unknown, key: string, fallback: number): number => num(field(of, 'spec', key)) ?? fallback;
  const keptAfter = limit(request.object, 'successfulJobsHistoryLimit', 3) + limit(request.object, 'failedJobsHistoryLimit', 1);
  const keptBefore = limit(request.oldObject, 'successfulJobsHistoryLimit', 3) + limit(request.oldObject, 'failedJobsHistoryLimit', 1);
  if (keptAfter >= keptBefore) return [];
  const uid = text(field(request.oldObject, 'metadata', 'uid'));
  const jobs = [...view.dependentsOf(uid)].filter((e) => e.resource === 'jobs.batch').sort((a, b) => (a.name < b.name ? -1 : 1));
  const gone = jobs.slice(0, Math.max(0, jobs.length - keptAfter));
  if (gone.length === 0) return [];
  const entries = gone.flatMap((job) => [job, ...view.dependentsOf(job.uid)]);
  return [{ entries, cause: `lowers the job history of cronjob ${request.namespace ?? ''}/${request.name ?? ''} to ${String(keptAfter)}: ${String(gone.length)} of its ${String(jobs.length)} jobs are deleted` }];
}

function served(crd: unknown): Set<string> {
  const versions = field(crd, 'spec', 'versions');
  const names = new Set<string>();
  for (const v of Array.isArray(versions) ? versions : []) if (field(v, 'served') !== false) names.add(text(field(v, 'name')));
  return names;
}

function crdRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  const after = served(request.object);
  const lost = [...served(request.oldObject)].filter((v) => !after.has(v));
  if (lost.length === 0) return [];
  const group = text(field(request.object, 'spec', 'group'));
  const plural = text(field(request.object, 'spec', 'names', 'plural'));
  const objects = [...view.ofResource(resourceKey(group, plural))];
  const unseen = objects.length === 0 ? { ...NO_IMPACT, total: 1, byResource: { [CRD_RESOURCE]: 1 } } : undefined;
  return [{ entries: objects, ...present({ unseen }), cause: `stops serving ${plural}.${group} version ${lost.join(', ')}: clients of it lose ${String(objects.length)} objects` }];
}

function finalizerRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  if (!isDeleting(request)) return [];
  const removed = removedFinalizers(request);
  if (removed.length === 0) return [];
  // The deletion was admitted earlier; dropping the finalizer lets it complete now, cascade and all.
  const asDelete: AdmissionRequest = { ...request, operation: 'DELETE', subResource: '', options: null, object: null };
  const what = `${request.resource.resource} ${request.namespace === undefined || request.namespace === '' ? '' : `${request.namespace}/`}${request.name ?? ''}`;
  const cause = `removes finalizer ${removed.join(', ')} from ${what}, which is being deleted: the deletion completes`;
  if (request.resource.group === '' && request.resource.resource === 'persistentvolumes') {
    // A volume deleted under reclaim policy Delete takes its storage (HonorPVReclaimPolicy): the policy it is left with.
    const reclaim = text(field(request.object, 'spec', 'persistentVolumeReclaimPolicy')) || 'Retain';
    const uid = text(field(request.oldObject, 'metadata', 'uid'));
    const entry = view.get(uid) ?? { uid, resource: 'persistentvolumes', namespace: '', name: request.name ?? '' };
    return [{ entries: [{ ...entry, volume: { reclaimPolicy: reclaim, claim: entry.volume?.claim ?? '' } }], cause }];
  }
  return [{ entries: [], unseen: computeImpact(asDelete, view), cause }];
}

/** True when the request may make a controller remove something, which only the cluster picture can count. */
export function removalsNeedPicture(request: AdmissionRequest): boolean {
  if (request.operation !== 'UPDATE') return false;
  if (isDeleting(request)) return true;
  const { group, resource } = request.resource;
  return (group === 'apps' && resource === 'statefulsets') || (group === '' && resource === 'persistentvolumes') ||
    (group === 'batch' && (resource === 'jobs' || resource === 'cronjobs')) ||
    (group === 'apiextensions.k8s.io' && resource === 'customresourcedefinitions');
}

type RemovalCheck = (request: AdmissionRequest, view: PictureView) => Found[];

/** By `group/resource` of the object itself: what an UPDATE of it makes a controller remove. */
const UPDATE_REMOVALS: Readonly<Record<string, RemovalCheck>> = {
  '/persistentvolumes': volumeRemovals,
  'batch/jobs': jobRemovals,
  'batch/cronjobs': cronJobRemovals,
  'apiextensions.k8s.io/customresourcedefinitions': crdRemovals,
};

function controllerRemovals(request: AdmissionRequest, view: PictureView): Found[] {
  // A deletion let through takes the object and its cascade: whatever else the update does to it goes with it.
  const completes = finalizerRemovals(request, view);
  if (completes.length > 0) return completes;
  const found: Found[] = [];
  const key = `${request.resource.group}/${request.resource.resource}`;
  const sub = request.subResource ?? '';
  // A StatefulSet scales through its spec and through its Scale alike.
  if (key === 'apps/statefulsets' && (sub === '' || sub === 'scale')) found.push(...statefulSetRemovals(request, view));
  if (sub === '') found.push(...(UPDATE_REMOVALS[key]?.(request, view) ?? []));
  return found;
}

/** A request's removals: its cascade (cascadeImpact: a DELETE's, dangling ownerReferences') plus what controllers remove. */
export function removes(request: AdmissionRequest, cascade: Impact, view: PictureView | undefined): Removes {
  const found = view !== undefined && removalsNeedPicture(request) ? controllerRemovals(request, view) : [];
  // One object removed for two reasons (a claim both scaled away and newly retained as Delete) counts once.
  let impact = view === undefined ? cascade : addImpacts(cascade, impactOfObjects(found.flatMap((f) => f.entries), view));
  for (const f of found) if (f.unseen !== undefined) impact = addImpacts(impact, f.unseen);
  const causes = found.map((f) => f.cause);
  if (request.operation === 'DELETE' && cascade.total > 0) causes.unshift(`deletes ${String(cascade.total)} object${cascade.total === 1 ? '' : 's'}`);
  return { ...impact, causes };
}
