// Which resources the picture watches, read from aggregated discovery (apidiscovery.k8s.io/v2, GA and served by
// every API server since Kubernetes 1.30, the oldest version Countersign supports): one request each for /api and
// /apis instead of one per group version.
import { field, resourceKey, text } from '../core/picture-view/entry.js';

export interface WatchedResource {
  /** The picture's resource key: `pods`, `deployments.apps`. */
  key: string;
  group: string;
  /** Collection path across all namespaces: `/api/v1/pods`, `/apis/apps/v1/deployments`. */
  path: string;
}

export interface DiscoveredResources {
  resources: WatchedResource[];
  /**
   * Groups the API server could not describe (an aggregated API server that is not answering is reported
   * `Stale`). Nothing is learnt about them: what was watched of them stays watched, nothing new is started.
   */
  staleGroups: string[];
}

// What the picture needs of a resource: list and watch to follow it, and delete because only what can be deleted
// can be part of a blast radius.
const REQUIRED_VERBS = ['list', 'watch', 'delete'] as const;

function arrayOf(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}


function collectionPath(group: string, version: string, plural: string): string {
  return group === '' ? `/api/${version}/${plural}` : `/apis/${group}/${version}/${plural}`;
}

interface Collector {
  exclude: ReadonlySet<string>;
  resources: Map<string, WatchedResource>;
  staleGroups: string[];
}

function readVersion(group: string, version: unknown, into: Collector, seen: Set<string>): void {
  const name = text(field(version, 'version'));
  for (const resource of arrayOf(field(version, 'resources'))) {
    const plural = text(field(resource, 'resource'));
    // The first version listed is the preferred one: a resource it serves is taken from it; a later version only
    // contributes resources the earlier ones lack.
    if (plural === '' || seen.has(plural)) continue;
    seen.add(plural);
    const verbs = arrayOf(field(resource, 'verbs'));
    const key = resourceKey(group, plural);
    if (!REQUIRED_VERBS.every((verb) => verbs.includes(verb)) || into.exclude.has(key)) continue;
    into.resources.set(key, { key, group, path: collectionPath(group, name, plural) });
  }
}

function readGroup(groupDocument: unknown, into: Collector): void {
  const group = text(field(field(groupDocument, 'metadata'), 'name'));
  const versions = arrayOf(field(groupDocument, 'versions'));
  if (versions.some((version) => field(version, 'freshness') === 'Stale')) {
    into.staleGroups.push(group);
    return;
  }
  const seen = new Set<string>();
  for (const version of versions) readVersion(group, version, into, seen);
}

/** The resources to watch, from the APIGroupDiscoveryList documents of /api and /apis. */
export function readDiscovery(documents: readonly unknown[], exclude: ReadonlySet<string>): DiscoveredResources {
  const into: Collector = { exclude, resources: new Map(), staleGroups: [] };
  for (const document of documents) {
    const kind = field(document, 'kind');
    if (kind !== 'APIGroupDiscoveryList') {
      throw new Error(`the API server did not answer with aggregated discovery (got kind ${JSON.stringify(kind)}); Kubernetes 1.30 or later is required`);
    }
    for (const group of arrayOf(field(document, 'items'))) readGroup(group, into);
  }
  return { resources: [...into.resources.values()], staleGroups: into.staleGroups };
}
