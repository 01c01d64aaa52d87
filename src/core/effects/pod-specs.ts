// Where an object keeps the pods it will run: a Pod's spec, a workload's pod template, a CronJob's job template,
// and any custom resource that embeds a pod template. Pure JSON walking, no cluster knowledge.
import type { AdmissionRequest } from '../../kube/types.js';
import { field } from '../picture-view/entry.js';
import { present } from '../../kube/present.js';

/** A pod spec found in an object, named by where it sits (`spec`, `spec.template.spec`, ...). */
export interface PodSpecAt {
  path: string;
  spec: Record<string, unknown>;
  /** The pod template holding the spec (its metadata included), or the spec itself for a Pod. */
  template: Record<string, unknown>;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isPodSpec = (value: unknown): value is Record<string, unknown> => isRecord(value) && Array.isArray(value.containers);

/** Custom workloads nest templates at varying depths; past this depth nothing real keeps one. */
const SEARCH_DEPTH = 6;

interface Search {
  found: PodSpecAt[];
  depth: number;
  /** The object holding `value`: a pod template when `value` is its `spec`. */
  parent?: Record<string, unknown>;
}

/** Every pod spec under `value`, depth-first, skipping status (what runs is declared, never reported). */
function findPodSpecs(value: unknown, path: string, search: Search): void {
  if (!isRecord(value) || search.depth > SEARCH_DEPTH) return;
  if (isPodSpec(value)) {
    // A template is `{metadata, spec}`: a change to its labels or annotations rolls pods as much as one to its spec.
    search.found.push({ path, spec: value, template: search.parent !== undefined && path.endsWith('.spec') ? search.parent : value });
    return;
  }
  const deeper = { found: search.found, depth: search.depth + 1, parent: value };
  for (const [key, child] of Object.entries(value)) {
    if (key === 'status' || key === 'metadata') continue;
    if (Array.isArray(child)) child.forEach((item, i) => { findPodSpecs(item, `${path}.${key}[${String(i)}]`, deeper); });
    else findPodSpecs(child, `${path}.${key}`, deeper);
  }
}

/** An image reference under another name: `imageName`, `dockerImage`, or `{repository, tag}`. */
function imageOf(key: string, value: unknown): string | undefined {
  if (typeof value === 'string' && /(^i|I)mage(Name)?$/.test(key) && key !== 'image') return value;
  if (key === 'image' && isRecord(value) && typeof value.repository === 'string') {
    return `${value.repository}${typeof value.tag === 'string' ? `:${value.tag}` : ''}`;
  }
  return undefined;
}

/** Every container-like object and image reference under `value`, named by position when they have no name. */
function findImages(value: unknown, depth: number, found: unknown[]): void {
  if (depth > SEARCH_DEPTH) return;
  if (Array.isArray(value)) {
    for (const item of value) findImages(item, depth + 1, found);
    return;
  }
  if (!isRecord(value)) return;
  if (typeof value.image === 'string') {
    found.push({ ...value, name: typeof value.name === 'string' ? value.name : `image-${String(found.length)}` });
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    if (key === 'status' || key === 'metadata') continue;
    const image = imageOf(key, child);
    if (image !== undefined) found.push({ name: `${key}-${String(found.length)}`, image });
    else findImages(child, depth + 1, found);
  }
}

const ACCOUNT_KEY = /^(serviceAccount(Name)?|[a-zA-Z]+ServiceAccount(Name)?)$/;

/** Every ServiceAccount named under `value`: the identities a custom workload's pods run as. */
function findAccounts(value: unknown, depth: number, found: Set<string>): void {
  if (depth > SEARCH_DEPTH) return;
  if (Array.isArray(value)) {
    for (const item of value) findAccounts(item, depth + 1, found);
    return;
  }
  if (!isRecord(value)) return;
  for (const [key, child] of Object.entries(value)) {
    if (key === 'status' || key === 'metadata') continue;
    // serviceAccountName, serviceAccount (Spark's driver, Flink), driverServiceAccount, executorServiceAccountName...
    if (ACCOUNT_KEY.test(key) && typeof child === 'string' && child !== '') found.add(child);
    else findAccounts(child, depth + 1, found);
  }
}

/**
 * The pod specs an object declares. A Pod is its own spec; everything else (built-in workloads, PodTemplates and
 * custom resources alike) is searched, so an operator's CRD that embeds a pod template is judged like a Deployment.
 */
export function podSpecsOf(object: unknown): PodSpecAt[] {
  const found: PodSpecAt[] = [];
  if (!isRecord(object)) return found;
  const spec = field(object, 'spec');
  if (isPodSpec(spec)) return [{ path: 'spec', spec, template: spec }];
  findPodSpecs(spec, 'spec', { found, depth: 0 });
  // core/v1 PodTemplate keeps its template at the top level.
  findPodSpecs(field(object, 'template'), 'template', { found, depth: 0 });
  if (found.length > 0) return found;
  // Workflow engines and operators run containers without pod specs (Argo's templates[].container, Tekton's
  // steps[], a database operator's imageName): every image under spec is a container, run as each
  // serviceAccountName the resource names (anywhere under spec: Argo sets them per template), `default` if none.
  const containers: unknown[] = [];
  findImages(spec, 0, containers);
  const accounts = new Set<string>();
  findAccounts(spec, 0, accounts);
  if (containers.length === 0 && accounts.size === 0) return found;
  const names = accounts.size === 0 ? [undefined] : [...accounts].sort();
  return names.map((account, i) => {
    const synthetic = { containers, ...present({ serviceAccountName: account }) };
    return { path: i === 0 ? 'spec' : `spec#${account ?? ''}`, spec: synthetic, template: synthetic };
  });
}

/** Requests whose object is not the workload itself (a Scale, a Binding, an Eviction) carry no pod spec to judge. */
export function declaresPods(request: AdmissionRequest): boolean {
  const sub = request.subResource ?? '';
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return false;
  return sub === '' || (request.resource.resource === 'pods' && sub === 'ephemeralcontainers');
}

export interface ContainerLike {
  name: string;
  [field: string]: unknown;
}

export const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** Every container of a pod spec, by list and name (`containers/web`). */
export function containersOf(spec: Record<string, unknown> | undefined): Map<string, ContainerLike> {
  const byName = new Map<string, ContainerLike>();
  for (const list of CONTAINER_LISTS) {
    const items = spec?.[list];
    if (!Array.isArray(items)) continue;
    for (const item of items) {
      if (isRecord(item)) byName.set(`${list}/${typeof item.name === 'string' ? item.name : ''}`, item as ContainerLike);
    }
  }
  return byName;
}

/** The ServiceAccount a pod spec runs as: the apiserver's default is `default`. */
export function serviceAccountOf(spec: Record<string, unknown>): string {
  for (const key of ['serviceAccountName', 'serviceAccount']) {
    const value = spec[key];
    if (typeof value === 'string' && value !== '') return value;
  }
  return 'default';
}
