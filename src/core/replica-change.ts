// Which workload a request resizes, and its replicas before and after, from the request alone (no clock, no I/O).
// Shared by the bulk counters (`agent.capacityRemoved`) and the effects model.
import type { AdmissionRequest } from '../kube/types.js';

export interface ReplicaChange {
  /** `group/resource/namespace/name` of the workload (a Scale names its parent resource). */
  workload: string;
  before: number;
  after: number;
}

function replicasOf(object: unknown, missing: number): number {
  const value = (object as { spec?: { replicas?: unknown } } | null | undefined)?.spec?.replicas;
  return typeof value === 'number' ? value : missing;
}

function hasReplicas(object: unknown): boolean {
  const spec = (object as { spec?: unknown } | null | undefined)?.spec;
  return typeof spec === 'object' && spec !== null && 'replicas' in spec;
}

/**
 * The replica change of an UPDATE of a workload's spec.replicas or of any `* /scale` subresource, or undefined.
 * A Scale omits `replicas: 0` (seen on the real apiserver), so a missing value there means 0; a workload without
 * spec.replicas means 1 (as impact.ts's scaleDown). Objects with no replicas on either side are not workloads here.
 */
export function replicaChange(request: AdmissionRequest): ReplicaChange | undefined {
  if (request.operation !== 'UPDATE') return undefined;
  const scale = request.subResource === 'scale';
  if (!scale && (request.subResource ?? '') !== '') return undefined;
  if (!scale && !hasReplicas(request.object) && !hasReplicas(request.oldObject)) return undefined;
  const missing = scale ? 0 : 1;
  const before = replicasOf(request.oldObject, missing);
  const after = replicasOf(request.object, missing);
  if (before === after) return undefined;
  const { group, resource } = request.resource;
  return { workload: `${group}/${resource}/${request.namespace ?? ''}/${request.name ?? ''}`, before, after };
}
