// The identity of an action: canonical JSON (sorted keys, no whitespace) hashed with SHA-256, so the same
// attempt always yields the same digest and any change to what is being done yields another.
import { createHash } from 'node:crypto';
import type { AdmissionRequest, KubeObject } from '../kube/types.js';
import { objectName } from './describe.js';
import type { Impact } from './impact.js';
import { present } from '../kube/present.js';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('canonicalJson: non-finite number');
    return JSON.stringify(value ?? null);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256Digest(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/** What a human approves: the action on one exact object (uid and resourceVersion), by whom, under which rule. */
export interface ActionRecord {
  operation: string;
  group: string;
  version: string;
  resource: string;
  subResource: string;
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  propagationPolicy: string;
  /** DeleteOptions that change what a delete does: an approved graceful delete does not cover a forced one. */
  gracePeriodSeconds: string;
  orphanDependents: string;
  /** For CREATE and UPDATE: the digest of what would be written, so an approval covers that content only. */
  objectDigest: string;
  requester: string;
  environment: string;
  rule: string;
  message: string;
  /** A DELETE's blast radius: an approval for "42 objects" does not cover the same namespace grown to 4,000. */
  impact?: Impact;
}

function optionString(request: AdmissionRequest, key: string): string {
  const value = request.options?.[key];
  return typeof value === 'string' ? value : '';
}

// Set by the apiserver afresh on every attempt of the same change, before validating webhooks run: hashing them
// would make every retry a different action (a CREATE could never be approved).
const SERVER_SET = ['managedFields', 'uid', 'creationTimestamp', 'resourceVersion', 'generation', 'selfLink'];

/** The object's content as its author wrote it. */
function contentDigest(object: KubeObject | null | undefined): string {
  if (object === null || object === undefined) return '';
  const generated = (object.metadata?.generateName ?? '') !== '';
  // A generated name differs on every attempt; what is approved is "one object from this template".
  const dropped = new Set([...SERVER_SET, ...(generated ? ['name'] : [])]);
  const metadata = Object.fromEntries(Object.entries(object.metadata ?? {}).filter(([key]) => !dropped.has(key)));
  return sha256Digest({ ...object, metadata });
}

function optionText(request: AdmissionRequest, key: string): string {
  const value = request.options?.[key];
  return value === undefined || value === null ? '' : JSON.stringify(value);
}

export function actionRecord(
  request: AdmissionRequest,
  facts: { environment: string; rule: string; message: string },
  impact?: Impact,
): ActionRecord {
  // The stored object: a CREATE has none, and the uid the apiserver gives a new object changes on every attempt.
  const stored = request.oldObject ?? undefined;
  return {
    operation: request.operation,
    group: request.resource.group,
    version: request.resource.version,
    resource: request.resource.resource,
    subResource: request.subResource ?? '',
    namespace: request.namespace ?? '',
    name: objectName(request),
    uid: stored?.metadata?.uid ?? '',
    resourceVersion: stored?.metadata?.resourceVersion ?? '',
    propagationPolicy: optionString(request, 'propagationPolicy'),
    gracePeriodSeconds: optionText(request, 'gracePeriodSeconds'),
    orphanDependents: optionText(request, 'orphanDependents'),
    objectDigest: request.operation === 'DELETE' ? '' : contentDigest(request.object),
    requester: request.userInfo.username,
    ...facts,
    ...present({ impact }),
  };
}
