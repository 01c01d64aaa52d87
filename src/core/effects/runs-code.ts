// Runs code in a workload: a shell into it (exec, attach, the apiserver's proxies), a debug container, a new
// workload, or a changed one whose containers now run something else. A new tag of the same image is a release,
// not new code: it is reported as changesImage and left to the audit and bulk rules.
import type { AdmissionRequest } from '../../kube/types.js';
import { field } from '../picture-view/entry.js';
import { objectTarget } from '../describe.js';
import { sameJson, without } from './json-compare.js';
import { containersOf, declaresPods, podSpecsOf, type ContainerLike, type PodSpecAt } from './pod-specs.js';
import { CauseList, type RunsCode } from './types.js';

/**
 * Container fields whose change is a release or a resize, not new code. The environment is not among them: a
 * variable can switch an image's code path (a migration, a wipe on start, a preloaded library).
 */
const CONTAINER_RELEASE_FIELDS = ['image', 'imagePullPolicy', 'resources', 'resizePolicy', 'ports', 'terminationMessagePath', 'terminationMessagePolicy'];

/** Pod-level fields that decide where and when pods run, not what they run or as whom. */
const POD_SCHEDULING_FIELDS = [
  'initContainers', 'containers', 'ephemeralContainers',
  'nodeSelector', 'affinity', 'tolerations', 'topologySpreadConstraints', 'priorityClassName', 'priority',
  'preemptionPolicy', 'schedulerName', 'schedulingGates', 'terminationGracePeriodSeconds', 'readinessGates',
  'restartPolicy', 'dnsPolicy', 'dnsConfig', 'resources', 'overhead', 'activeDeadlineSeconds',
];

const DANGEROUS_CAPABILITIES = new Set(['ALL', 'SYS_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'NET_ADMIN', 'BPF', 'PERFMON']);

/** The image's repository: the reference without its tag and digest (`registry:5000/shop/web`). */
export function imageRepository(image: unknown): string {
  if (typeof image !== 'string') return '';
  const noDigest = image.split('@', 1)[0] ?? '';
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

function hostPathVolumes(spec: Record<string, unknown>): string[] {
  const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
  return volumes
    .filter((volume: unknown) => typeof volume === 'object' && volume !== null && 'hostPath' in volume)
    .map((volume: unknown) => `hostPath volume ${String(field(volume, 'name'))}`);
}

function containerNodeReasons(name: string, container: ContainerLike): string[] {
  const reasons: string[] = [];
  const context = container.securityContext;
  if (field(context, 'privileged') === true) reasons.push(`privileged ${name}`);
  if (field(context, 'procMount') === 'Unmasked') reasons.push(`unmasked /proc in ${name}`);
  const added: unknown = field(context, 'capabilities', 'add');
  const strong = (Array.isArray(added) ? added : [])
    .filter((c: unknown): c is string => typeof c === 'string' && DANGEROUS_CAPABILITIES.has(c.toUpperCase().replace(/^CAP_/, '')));
  if (strong.length > 0) reasons.push(`capabilities ${strong.join(',')} in ${name}`);
  return reasons;
}

/** Volume types that reach storage outside the pod's own claims: another namespace's or a node's data. */
const FOREIGN_VOLUMES = ['nfs', 'iscsi', 'rbd', 'cephfs', 'fc', 'glusterfs', 'flocker', 'quobyte', 'portworxVolume', 'local'];

function foreignVolumes(spec: Record<string, unknown>): string[] {
  const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
  return volumes.flatMap((volume: unknown) => FOREIGN_VOLUMES.filter((type) => field(volume, type) !== undefined)
    .map((type) => `${type} volume ${String(field(volume, 'name'))}`));
}

/** Why code in this pod spec runs with the node's powers: host namespaces, hostPath, privilege, capabilities. */
function nodeLevelReasons(spec: Record<string, unknown>): string[] {
  const reasons = (['hostPID', 'hostNetwork', 'hostIPC'] as const).filter((key) => spec[key] === true).map(String);
  reasons.push(...hostPathVolumes(spec), ...foreignVolumes(spec));
  // The system priorities preempt any other pod on a node, production's and Countersign's own included.
  const priority = spec.priorityClassName;
  if (typeof priority === 'string' && priority.startsWith('system-')) reasons.push(`priority class ${priority} (preempts any pod)`);
  for (const [name, container] of containersOf(spec)) reasons.push(...containerNodeReasons(name, container));
  return reasons;
}

interface ContainerChange {
  code: string[];
  images: string[];
}

function compareContainers(before: Map<string, ContainerLike>, after: Map<string, ContainerLike>): ContainerChange {
  const change: ContainerChange = { code: [], images: [] };
  for (const [name, container] of after) {
    const old = before.get(name);
    if (old === undefined) {
      change.code.push(`adds container ${name}`);
      continue;
    }
    if (!sameJson(without(old, CONTAINER_RELEASE_FIELDS), without(container, CONTAINER_RELEASE_FIELDS))) change.code.push(`changes what ${name} runs`);
    if (old.image !== container.image) {
      if (imageRepository(old.image) !== imageRepository(container.image)) {
        change.code.push(`moves ${name} to image ${String(container.image)} (was ${String(old.image)})`);
      } else change.images.push(name);
    }
  }
  return change;
}

export interface PodSpecChange {
  path: string;
  before: Record<string, unknown> | undefined;
  after: Record<string, unknown>;
  /** Only the template's metadata changed (`kubectl rollout restart`): pods roll, nothing new runs. */
  metadataOnly: boolean;
}

/** Worked out once per request: runsCode, restartsPods, stopsPods and the identities all read it. */
const changesOf = new WeakMap<AdmissionRequest, readonly PodSpecChange[]>();

/** The pod templates a CREATE or UPDATE sets, paired with what they were; unchanged ones left out. */
export function changedPodSpecs(request: AdmissionRequest): readonly PodSpecChange[] {
  const known = changesOf.get(request);
  if (known !== undefined) return known;
  const changes = findChangedPodSpecs(request);
  changesOf.set(request, changes);
  return changes;
}

function findChangedPodSpecs(request: AdmissionRequest): PodSpecChange[] {
  if (!declaresPods(request)) return [];
  const before = new Map<string, PodSpecAt>(podSpecsOf(request.oldObject).map((at) => [at.path, at]));
  const changes: PodSpecChange[] = [];
  for (const at of podSpecsOf(request.object)) {
    const old = request.operation === 'UPDATE' ? before.get(at.path) : undefined;
    if (old !== undefined && sameJson(old.template, at.template)) continue;
    changes.push({ path: at.path, before: old?.spec, after: at.spec, metadataOnly: old !== undefined && sameJson(old.spec, at.spec) });
  }
  return changes;
}

const CONNECT_WHAT: Record<string, string> = {
  exec: 'executes a command in', attach: 'attaches to', portforward: 'port-forwards into', proxy: 'proxies to',
};

export interface RunsCodeResult extends RunsCode {
  changesImage: boolean;
}

/** A live channel into a container or a node: every connect subresource (exec, attach, portforward, proxy). */
function connectCause(request: AdmissionRequest): string | undefined {
  if (request.operation === 'CONNECT') {
    const sub = request.subResource ?? '';
    return `${CONNECT_WHAT[sub] ?? `opens ${sub} to`} ${objectTarget(request)}`;
  }
  if (request.operation === 'UPDATE' && request.subResource === 'ephemeralcontainers') return `adds a debug container to ${objectTarget(request)}`;
  return undefined;
}

interface SpecVerdict {
  causes: string[];
  onNode: boolean;
  imageChanged: boolean;
}

function judgeSpecChange(change: PodSpecChange, where: string): SpecVerdict {
  if (change.metadataOnly) return { causes: [], onNode: false, imageChanged: false };
  const node = nodeLevelReasons(change.after);
  const causes = node.length > 0 ? [`runs with the node's powers in ${where}: ${node.join(', ')}`] : [];
  if (change.before === undefined) return { causes: [...causes, `starts a new workload ${where}`], onNode: node.length > 0, imageChanged: false };
  const containers = compareContainers(containersOf(change.before), containersOf(change.after));
  causes.push(...containers.code.map((what) => `${what} in ${where}`));
  if (!sameJson(without(change.before, POD_SCHEDULING_FIELDS), without(change.after, POD_SCHEDULING_FIELDS))) {
    causes.push(`changes the volumes, identity or security settings of ${where}`);
  }
  return { causes, onNode: node.length > 0, imageChanged: containers.images.length > 0 };
}

/** A CRD's conversion webhook sees and rewrites every object of the kind, whatever version is read or stored. */
function conversionCause(request: AdmissionRequest): string | undefined {
  if (request.resource.group !== 'apiextensions.k8s.io' || request.resource.resource !== 'customresourcedefinitions') return undefined;
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return undefined;
  const conversion = field(request.object, 'spec', 'conversion');
  if (field(conversion, 'strategy') !== 'Webhook' || sameJson(conversion, field(request.oldObject, 'spec', 'conversion'))) return undefined;
  return `sends every object of ${request.name ?? ''} through a conversion webhook`;
}

/** `connectedPodSpec`: for a shell into a pod, its spec as the edge read it; the shell has the pod's node powers. */
export function runsCode(request: AdmissionRequest, connectedPodSpec?: Record<string, unknown>): RunsCodeResult {
  const causes = new CauseList();
  for (const cause of [connectCause(request), conversionCause(request)]) if (cause !== undefined) causes.add(cause);
  const connectedNode = connectedPodSpec === undefined ? [] : nodeLevelReasons(connectedPodSpec);
  if (connectedNode.length > 0) causes.add(`the pod runs with the node's powers: ${connectedNode.join(', ')}`);
  let onNode = (request.operation === 'CONNECT' && request.resource.resource === 'nodes') || connectedNode.length > 0;
  let imageOnly = false;
  for (const change of changedPodSpecs(request)) {
    const verdict = judgeSpecChange(change, change.path === 'spec' ? objectTarget(request) : `${objectTarget(request)} (${change.path})`);
    for (const cause of verdict.causes) causes.add(cause);
    onNode ||= verdict.onNode;
    imageOnly ||= verdict.imageChanged;
  }
  return { ...causes.flagged(), onNode, changesImage: imageOnly && causes.causes.length === 0 };
}
