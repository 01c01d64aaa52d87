// The identity of an action: canonical JSON (sorted keys, no whitespace) hashed with SHA-256, so the same
// attempt always yields the same digest and any change to what is being done yields another.
import { createHash } from 'node:crypto';
import type { AdmissionRequest, KubeObject } from '../admission/types.js';
import { objectName } from './describe.js';

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
  /** For CREATE and UPDATE: the digest of what would be written, so an approval covers that content only. */
  objectDigest: string;
  requester: string;
  environment: string;
  rule: string;
  message: string;
}

function optionString(request: AdmissionRequest, key: string): string {
  const value = request.options?.[key];
  return typeof value === 'string' ? value : '';
}

/** The object's content without managedFields, whose timestamps change on every attempt of the same change. */
function contentDigest(object: KubeObject | null | undefined): string {
  if (object === null || object === undefined) return '';
  const { managedFields: _ignored, ...metadata } = (object.metadata ?? {}) as Record<string, unknown>;
  return sha256Digest({ ...object, metadata });
}

export function actionRecord(request: AdmissionRequest, facts: { environment: string; rule: string; message: string }): ActionRecord {
  const target = request.oldObject ?? request.object ?? undefined;
  return {
    operation: request.operation,
    group: request.resource.group,
    version: request.resource.version,
    resource: request.resource.resource,
    subResource: request.subResource ?? '',
    namespace: request.namespace ?? '',
    name: objectName(request),
    uid: target?.metadata?.uid ?? '',
    resourceVersion: target?.metadata?.resourceVersion ?? '',
    propagationPolicy: optionString(request, 'propagationPolicy'),
    objectDigest: request.operation === 'DELETE' ? '' : contentDigest(request.object),
    requester: request.userInfo.username,
    ...facts,
  };
}
