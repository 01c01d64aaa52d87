// Hand-written AdmissionRequests and cluster objects for the effects model's unit tests, and computeEffects wired
// the way decide.ts wires it (the cascade from impact.ts, the default policy's agent matcher, a static picture).
import type { AdmissionRequest, KubeObject, Operation, UserInfo } from '../../src/kube/types.js';
import { computeEffects, type Effects, type IdentityFacts } from '../../src/core/effects/index.js';
import { cascadeImpact, computeImpact } from '../../src/core/impact.js';
import { agentMatcher } from '../../src/core/requester.js';
import { staticPicture } from '../../src/picture/cluster-picture.js';

/** The held-out fixtures' agent: a ServiceAccount matched by the default policy's `agents/*`. */
export const AGENT: UserInfo = {
  username: 'system:serviceaccount:agents:coder',
  groups: ['system:serviceaccounts', 'system:serviceaccounts:agents', 'system:authenticated'],
};

export interface Shape {
  operation: Operation;
  /** `group/resource`, or a bare core resource: `apps/deployments`, `pods`. */
  resource: string;
  subResource?: string;
  namespace?: string;
  name?: string;
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  userInfo?: UserInfo;
}

let counter = 0;

/** An AdmissionRequest as the apiserver sends it for `shape` (version v1; kind is not read by the effects). */
export function admission(shape: Shape): AdmissionRequest {
  const slash = shape.resource.lastIndexOf('/');
  const group = slash < 0 ? '' : shape.resource.slice(0, slash);
  const resource = slash < 0 ? shape.resource : shape.resource.slice(slash + 1);
  counter += 1;
  return {
    uid: `effects-${String(counter)}`,
    kind: { group, version: 'v1', kind: 'Object' },
    resource: { group, version: 'v1', resource },
    ...(shape.subResource === undefined ? {} : { subResource: shape.subResource }),
    ...(shape.name === undefined ? {} : { name: shape.name }),
    ...(shape.namespace === undefined ? {} : { namespace: shape.namespace }),
    operation: shape.operation,
    userInfo: shape.userInfo ?? AGENT,
    object: shape.object ?? null,
    oldObject: shape.oldObject ?? null,
  };
}

/** An UPDATE of `resource` from `before` to `after`, named and placed by `before`'s metadata. */
export function update(resource: string, before: KubeObject, after: KubeObject, subResource?: string): AdmissionRequest {
  const name = before.metadata?.name;
  const namespace = before.metadata?.namespace;
  return admission({
    operation: 'UPDATE', resource, ...(subResource === undefined ? {} : { subResource }),
    ...(name === undefined ? {} : { name }), ...(namespace === undefined ? {} : { namespace }), object: after, oldObject: before,
  });
}

export function create(resource: string, object: KubeObject, subResource?: string): AdmissionRequest {
  const name = object.metadata?.name;
  const namespace = object.metadata?.namespace;
  return admission({
    operation: 'CREATE', resource, ...(subResource === undefined ? {} : { subResource }),
    ...(name === undefined ? {} : { name }), ...(namespace === undefined ? {} : { namespace }), object,
  });
}

export function connect(resource: string, subResource: string, namespace: string | undefined, name: string): AdmissionRequest {
  return admission({ operation: 'CONNECT', resource, subResource, ...(namespace === undefined ? {} : { namespace }), name, object: { kind: 'PodExecOptions' } });
}

/** A deep copy changed by `edit`: the `after` of an UPDATE. */
export function edited<T>(value: T, edit: (copy: T) => void): T {
  const copy = structuredClone(value);
  edit(copy);
  return copy;
}

const matcher = agentMatcher({ serviceAccounts: ['agents/*'], usernames: [], groups: ['countersign:agents'] });

/** computeEffects as decide.ts calls it, over a static picture of `objects`. */
export function effectsOf(request: AdmissionRequest, objects: readonly unknown[] = [], identities?: IdentityFacts): Effects {
  const { view } = staticPicture(objects);
  const cascade = request.operation === 'DELETE' ? computeImpact(request, view) : cascadeImpact(request, view);
  return computeEffects(request, {
    cascade, view, countersignNamespace: 'countersign', isAgent: (user) => matcher.classify(user).isAgent,
    ...(identities === undefined ? {} : { identities }),
  });
}

// --- objects --------------------------------------------------------------------------------------------------

type Metadata = NonNullable<KubeObject['metadata']>;

function meta(name: string, namespace: string | undefined, uid: string, more: Partial<Metadata> = {}): Metadata {
  return { name, ...(namespace === undefined ? {} : { namespace }), uid, ...more };
}

export function container(name: string, image: string, more: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image, ...more };
}

/** A pod spec running `shop/web:1.0`, plus `more`. */
export function podSpec(more: Record<string, unknown> = {}): Record<string, unknown> {
  return { containers: [container('web', 'shop/web:1.0')], ...more };
}

export function pod(namespace: string, name: string, spec: Record<string, unknown> = podSpec(), more: Partial<Metadata> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: meta(name, namespace, `pod-${name}`, more), spec };
}

/**
 * A Deployment, StatefulSet, DaemonSet or ReplicaSet (`kind`, named `namespace/name`) with `spec`'s extra fields and
 * a pod template running `template` (podSpec() unless given).
 */
export function workload(kind: string, at: string, spec: Record<string, unknown> = {}, template: Record<string, unknown> = podSpec()): KubeObject {
  const [namespace = '', name = ''] = at.split('/');
  return {
    apiVersion: 'apps/v1', kind, metadata: meta(name, namespace, `${kind.toLowerCase()}-${name}`),
    spec: { selector: { matchLabels: { app: name } }, ...spec, template: { metadata: { labels: { app: name } }, spec: template } },
  };
}

export function configMap(namespace: string, name: string, data: Record<string, string> = {}, more: Partial<Metadata> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(name, namespace, `cm-${name}`, more), data };
}

/** A claim bound to `volume`. */
export function boundClaim(namespace: string, name: string, volume: string): KubeObject {
  return {
    apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: meta(name, namespace, `pvc-${namespace}-${name}`),
    spec: { volumeName: volume }, status: { phase: 'Bound' },
  };
}

export function volume(name: string, reclaim: string, claim?: { namespace: string; name: string }): KubeObject {
  return {
    apiVersion: 'v1', kind: 'PersistentVolume', metadata: meta(name, undefined, `pv-${name}`),
    spec: { persistentVolumeReclaimPolicy: reclaim, ...(claim === undefined ? {} : { claimRef: { ...claim, uid: `pvc-${claim.namespace}-${claim.name}` } }) },
  };
}

/** Claims `<template>-<set>-<ordinal>` for ordinals [0, n), each bound to a Delete volume of the same name. */
export function setClaims(namespace: string, template: string, set: string, n: number): KubeObject[] {
  const objects: KubeObject[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${template}-${set}-${String(i)}`;
    objects.push(boundClaim(namespace, name, `pv-${name}`), volume(`pv-${name}`, 'Delete', { namespace, name }));
  }
  return objects;
}

/** An object owned by `ownerUid` (ownerReferences), as the garbage collector sees it. */
export function ownedBy<T extends KubeObject>(object: T, ownerUid: string): T {
  return edited(object, (o) => {
    o.metadata = { ...o.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'Owner', name: 'owner', uid: ownerUid }] };
  });
}
