// Stops or restarts pods: replicas taken away by any path, a Job suspended or cut short, an autoscaler bounded
// below what runs, a Node tainted or relabelled (its pods evicted, its DaemonSet pods removed), and rollouts: a pod
// template changed is every replica restarted. Counts come from the request alone (spec and status).
import type { AdmissionRequest } from '../../kube/types.js';
import { field } from '../picture-view/entry.js';
import { replicaChange } from '../replica-change.js';
import { objectTarget } from '../describe.js';
import { num, sameJson } from './json-compare.js';
import { changedPodSpecs } from './runs-code.js';
import { type PodsEffect } from './types.js';

class PodCount {
  count = 0;
  unbounded = false;
  readonly causes: string[] = [];

  add(count: number | undefined, cause: string): void {
    if (count === undefined) this.unbounded = true;
    else this.count += count;
    this.causes.push(cause);
  }

  result(): PodsEffect {
    return { count: this.count, unbounded: this.unbounded, causes: this.causes };
  }
}


function is(request: AdmissionRequest, group: string, resource: string): boolean {
  return request.resource.group === group && request.resource.resource === resource;
}

/** A deadline newly set, or moved earlier: the controller or kubelet kills what runs past it. */
function deadlineShortened(before: unknown, after: unknown): boolean {
  const a = num(after);
  if (a === undefined) return false;
  const b = num(before);
  return b === undefined || a < b;
}

function jobStops(request: AdmissionRequest, pods: PodCount): void {
  const parallelism = num(field(request.object, 'spec', 'parallelism')) ?? 1;
  const before = num(field(request.oldObject, 'spec', 'parallelism')) ?? 1;
  if (parallelism < before) pods.add(before - parallelism, `lowers the parallelism of ${objectTarget(request)} from ${String(before)} to ${String(parallelism)}`);
  if (field(request.object, 'spec', 'suspend') === true && field(request.oldObject, 'spec', 'suspend') !== true) {
    pods.add(parallelism, `suspends ${objectTarget(request)} (its running pods are deleted)`);
  }
  if (deadlineShortened(field(request.oldObject, 'spec', 'activeDeadlineSeconds'), field(request.object, 'spec', 'activeDeadlineSeconds'))) {
    pods.add(parallelism, `shortens the deadline of ${objectTarget(request)} (its pods are killed when it passes)`);
  }
}

function autoscalerStops(request: AdmissionRequest, pods: PodCount): void {
  if (request.operation === 'CREATE') {
    pods.add(undefined, `creates ${objectTarget(request)}, which takes over its target's replicas`);
    return;
  }
  if (!sameJson(field(request.oldObject, 'spec', 'scaleTargetRef'), field(request.object, 'spec', 'scaleTargetRef'))) {
    pods.add(undefined, `points ${objectTarget(request)} at another workload`);
  }
  const current = num(field(request.oldObject, 'status', 'currentReplicas'));
  const max = num(field(request.object, 'spec', 'maxReplicas'));
  if (max !== undefined && max < (num(field(request.oldObject, 'spec', 'maxReplicas')) ?? Infinity)) {
    if (current === undefined) pods.add(undefined, `lowers the maximum of ${objectTarget(request)} to ${String(max)}`);
    else if (current > max) pods.add(current - max, `lowers the maximum of ${objectTarget(request)} to ${String(max)} below its ${String(current)} replicas`);
  }
}

function taintsWithEffect(node: unknown, effect: string): string[] {
  const taints = field(node, 'spec', 'taints');
  if (!Array.isArray(taints)) return [];
  return taints
    .filter((t: unknown) => field(t, 'effect') === effect)
    .map((t: unknown) => `${String(field(t, 'key'))}=${typeof field(t, 'value') === 'string' ? String(field(t, 'value')) : ''}`);
}

function nodeStops(request: AdmissionRequest, pods: PodCount): void {
  const before = new Set(taintsWithEffect(request.oldObject, 'NoExecute'));
  const added = taintsWithEffect(request.object, 'NoExecute').filter((t) => !before.has(t));
  if (added.length > 0) pods.add(undefined, `taints node ${request.name ?? ''} NoExecute (${added.join(', ')}): its pods are evicted`);
  if (!sameJson(field(request.oldObject, 'metadata', 'labels'), field(request.object, 'metadata', 'labels'))) {
    pods.add(undefined, `relabels node ${request.name ?? ''}: DaemonSets that select on them stop or start their pods there`);
  }
}

function podStops(request: AdmissionRequest, pods: PodCount): void {
  if (deadlineShortened(field(request.oldObject, 'spec', 'activeDeadlineSeconds'), field(request.object, 'spec', 'activeDeadlineSeconds'))) {
    pods.add(1, `sets a deadline on pod ${request.namespace ?? ''}/${request.name ?? ''}`);
  }
}

type StopCheck = (request: AdmissionRequest, pods: PodCount) => void;

/** By `group/resource`: what an UPDATE of the object itself stops, beyond replicas. */
const UPDATE_STOPS: Readonly<Record<string, StopCheck>> = {
  'scheduling.k8s.io/priorityclasses': (request, pods) => { priorityStops(request, pods); },
  'apps/statefulsets': statefulSetStops,
  'apps/deployments': templateStops,
  'apps/daemonsets': templateStops,
  'batch/jobs': jobStops,
  'autoscaling/horizontalpodautoscalers': autoscalerStops,
  '/nodes': nodeStops,
  '/pods': podStops,
};

/** By `group/resource/subresource`: what a CREATE stops. */
const CREATE_STOPS: Readonly<Record<string, StopCheck>> = {
  '/pods/eviction': (request, pods) => { pods.add(1, `evicts pod ${request.namespace ?? ''}/${request.name ?? ''}`); },
  'autoscaling/horizontalpodautoscalers/': autoscalerStops,
  'scheduling.k8s.io/priorityclasses/': priorityStops,
};

function priorityStops(request: AdmissionRequest, pods: PodCount): void {
  pods.add(undefined, `writes PriorityClass ${request.name ?? ''}: pods given it can preempt others`);
}

export function stopsPods(request: AdmissionRequest): PodsEffect {
  const pods = new PodCount();
  const key = `${request.resource.group}/${request.resource.resource}`;
  const sub = request.subResource ?? '';
  if (request.operation === 'CREATE') CREATE_STOPS[`${key}/${sub}`]?.(request, pods);
  if (request.operation !== 'UPDATE') return pods.result();
  const change = replicaChange(request);
  if (change !== undefined && change.after < change.before) {
    pods.add(change.before - change.after, `scales ${objectTarget(request)} from ${String(change.before)} to ${String(change.after)} replicas`);
  }
  if (sub === '') UPDATE_STOPS[key]?.(request, pods);
  return pods.result();
}

/** The pods a StatefulSet runs, by ordinal: [start, start + replicas). */
function ordinalRange(of: unknown): { start: number; end: number } {
  const start = num(field(of, 'spec', 'ordinals', 'start')) ?? 0;
  return { start, end: start + (num(field(of, 'spec', 'replicas')) ?? 1) };
}

/**
 * Ordinals a StatefulSet stops running after an UPDATE: a lower count or a shifted start through its spec, or a
 * lower count through its Scale (whose start, which a Scale does not carry, is `scaleStart`).
 */
export function condemnedOrdinals(request: AdmissionRequest, scaleStart = 0): number[] {
  if (request.operation !== 'UPDATE') return [];
  let before = ordinalRange(request.oldObject);
  let after = ordinalRange(request.object);
  if (request.subResource === 'scale') {
    const change = replicaChange(request);
    if (change === undefined) return [];
    before = { start: scaleStart, end: scaleStart + change.before };
    after = { start: scaleStart, end: scaleStart + change.after };
  } else if ((request.subResource ?? '') !== '') return [];
  const gone: number[] = [];
  for (let ordinal = before.start; ordinal < before.end && gone.length < 10_000; ordinal += 1) {
    if (ordinal < after.start || ordinal >= after.end) gone.push(ordinal);
  }
  return gone;
}

function statefulSetStops(request: AdmissionRequest, pods: PodCount): void {
  const moved = num(field(request.oldObject, 'spec', 'ordinals', 'start')) !== num(field(request.object, 'spec', 'ordinals', 'start'));
  if (!moved) return;
  // Replica count changes are counted as a scale-down already; a shifted start stops the ordinals it leaves.
  const gone = condemnedOrdinals(request).length - Math.max(0, (num(field(request.oldObject, 'spec', 'replicas')) ?? 1) - (num(field(request.object, 'spec', 'replicas')) ?? 1));
  if (gone > 0) pods.add(gone, `moves the ordinals of ${objectTarget(request)}: ${String(gone)} of its pods are replaced by new ones`);
}

/** A Deployment whose rollout takes every pod down at once: Recreate, or maxUnavailable covering all replicas. */
function rollsAllAtOnce(request: AdmissionRequest): boolean {
  const strategy = field(request.object, 'spec', 'strategy');
  if (field(strategy, 'type') === 'Recreate') return true;
  const unavailable = field(strategy, 'rollingUpdate', 'maxUnavailable');
  const replicas = num(field(request.object, 'spec', 'replicas')) ?? 1;
  return unavailable === '100%' || (typeof unavailable === 'number' && unavailable >= replicas);
}

/** Pod-template fields that decide which nodes a DaemonSet runs on: changing them removes its pods from nodes. */
const PLACEMENT_FIELDS = ['nodeSelector', 'affinity', 'tolerations', 'nodeName'];

function templateStops(request: AdmissionRequest, pods: PodCount): void {
  const { group, resource } = request.resource;
  for (const change of changedPodSpecs(request)) {
    if (change.before === undefined || change.metadataOnly) continue;
    if (group === 'apps' && resource === 'deployments' && rollsAllAtOnce(request)) {
      pods.add(num(field(request.object, 'spec', 'replicas')) ?? 1, `rolls out ${objectTarget(request)} with every pod down at once`);
    }
    const placement = change.before;
    if (group === 'apps' && resource === 'daemonsets' && PLACEMENT_FIELDS.some((key) => !sameJson(placement[key], change.after[key]))) {
      pods.add(undefined, `changes where ${objectTarget(request)} runs: its pods leave the nodes it no longer selects`);
    }
  }
}

/** How many pods a template change replaces, undefined when unknown; 0 when the controller does not roll. */
function rolloutSize(request: AdmissionRequest, path: string): number | undefined {
  const { group, resource } = request.resource;
  const strategy = field(request.object, 'spec', 'updateStrategy', 'type');
  const replicas = num(field(request.object, 'spec', 'replicas'));
  if (group === 'apps' && resource === 'deployments') return replicas ?? 1;
  if (group === 'apps' && resource === 'statefulsets') return strategy === 'OnDelete' ? 0 : replicas ?? 1;
  if (group === 'apps' && resource === 'daemonsets') return strategy === 'OnDelete' ? 0 : num(field(request.oldObject, 'status', 'desiredNumberScheduled'));
  // ReplicaSets, ReplicationControllers, Jobs and CronJobs apply a new template only to pods they create later.
  if (['replicasets', 'replicationcontrollers', 'jobs', 'cronjobs', 'podtemplates'].includes(resource) || resource === 'pods') return 0;
  // A custom workload with a template rolls what it runs, as far as anyone can tell from outside.
  return path === 'spec.template.spec' ? replicas : undefined;
}

/**
 * A StatefulSet's rollout held back and then released: OnDelete switched to RollingUpdate, or its partition
 * lowered. The template change was counted as nothing when it was made; the release rolls the pods.
 */
function statefulSetRollouts(request: AdmissionRequest, pods: PodCount): void {
  if (!is(request, 'apps', 'statefulsets') || (request.subResource ?? '') !== '') return;
  const replicas = num(field(request.object, 'spec', 'replicas')) ?? 1;
  const type = (of: unknown): unknown => field(of, 'spec', 'updateStrategy', 'type');
  if (type(request.oldObject) === 'OnDelete' && type(request.object) !== 'OnDelete') {
    pods.add(replicas, `switches ${objectTarget(request)} from OnDelete to rolling updates: its ${String(replicas)} pods roll`);
    return;
  }
  const partition = (of: unknown): number => num(field(of, 'spec', 'updateStrategy', 'rollingUpdate', 'partition')) ?? 0;
  const released = Math.min(replicas, partition(request.oldObject)) - Math.min(replicas, partition(request.object));
  if (released > 0) pods.add(released, `lowers the rollout partition of ${objectTarget(request)}: ${String(released)} pods roll`);
}

export function restartsPods(request: AdmissionRequest): PodsEffect {
  const pods = new PodCount();
  if (request.operation !== 'UPDATE') return pods.result();
  if (is(request, '', 'pods') && request.subResource === 'resize') pods.add(1, `resizes pod ${request.namespace ?? ''}/${request.name ?? ''} (its containers may restart)`);
  for (const change of changedPodSpecs(request)) {
    if (change.before === undefined) continue;
    const size = rolloutSize(request, change.path);
    if (size === 0) continue;
    pods.add(size, `rolls out a new pod template for ${objectTarget(request)}${size === undefined ? '' : ` (${String(size)} pods replaced)`}`);
  }
  statefulSetRollouts(request, pods);
  // A ReplicationController's selector is mutable: changing it orphans its pods and starts new ones.
  if (is(request, '', 'replicationcontrollers') && (request.subResource ?? '') === '' &&
    !sameJson(field(request.oldObject, 'spec', 'selector'), field(request.object, 'spec', 'selector'))) {
    pods.add(num(field(request.object, 'spec', 'replicas')) ?? 1, `changes the selector of ${objectTarget(request)}: its pods are orphaned and replaced`);
  }
  return pods.result();
}
