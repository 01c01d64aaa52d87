// Human-readable names for requests, used in messages, logs and metric labels.
import type { AdmissionRequest } from '../kube/types.js';

/** `apps/deployments/scale`, `namespaces`: bounded by the API surface, safe as a metric label. */
export function resourceLabel(request: AdmissionRequest): string {
  const { group, resource } = request.resource;
  const base = group === '' ? resource : `${group}/${resource}`;
  return request.subResource !== undefined && request.subResource !== '' ? `${base}/${request.subResource}` : base;
}

/**
 * The resource as a metric label. Agents can create CRDs, so custom groups are folded into one value to keep the
 * label bounded; the decision log keeps the exact resource.
 */
export function metricResourceLabel(request: AdmissionRequest): string {
  const group = request.resource.group;
  const builtIn = group === '' || !group.includes('.') || group.endsWith('.k8s.io');
  return builtIn ? resourceLabel(request) : 'custom';
}

/** The object's name; DeleteCollection items carry `name: ""` and only the stored object knows it. */
export function objectName(request: AdmissionRequest): string {
  if (request.name !== undefined && request.name !== '') return request.name;
  return request.oldObject?.metadata?.name ?? request.object?.metadata?.name ?? '';
}

/** `deployments shop/web`: the plural resource and where the object is, for effects' causes. */
export function objectTarget(request: AdmissionRequest): string {
  const ns = request.namespace ?? '';
  return `${request.resource.resource} ${ns === '' ? '' : `${ns}/`}${objectName(request)}`;
}

export function describeTarget(request: AdmissionRequest): string {
  const name = objectName(request);
  const namespaced = request.namespace !== undefined && request.namespace !== '' && request.resource.resource !== 'namespaces';
  return `${resourceLabel(request)} ${namespaced ? `${request.namespace ?? ''}/` : ''}${name === '' ? '(unnamed)' : name}`;
}

const VERBS: Record<string, string> = { CREATE: 'create', UPDATE: 'update', DELETE: 'delete', CONNECT: 'connect to' };

export function describeAction(request: AdmissionRequest, environment: string): string {
  return `${VERBS[request.operation] ?? request.operation} ${describeTarget(request)} in environment "${environment}"`;
}
