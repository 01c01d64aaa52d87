// Which environment a request touches: the namespace's label, then its name patterns, then the default.
// Cluster-scoped objects count as the configured `clusterScoped` environment (production by default).
import type { AdmissionRequest, KubeObject } from '../kube/types.js';
import type { Config } from '../config/schema.js';
import { anyGlob } from '../kube/glob.js';

export function isNamespaceResource(request: AdmissionRequest): boolean {
  return request.resource.group === '' && request.resource.resource === 'namespaces';
}

/** Namespaces are cluster-scoped, though the apiserver sets `request.namespace` to their own name. */
export function isClusterScoped(request: AdmissionRequest): boolean {
  return isNamespaceResource(request) || (request.namespace ?? '') === '';
}

/**
 * The Namespace object that decides the environment: for a request on a Namespace itself, its stored state
 * (oldObject) when there is one, so an agent cannot relabel its way out of production in the same request.
 */
export function namespaceOfRequest(request: AdmissionRequest, looked: KubeObject | undefined): KubeObject | undefined {
  if (isNamespaceResource(request)) return request.oldObject ?? request.object ?? looked;
  return looked;
}

export interface EnvironmentResolver {
  resolve(request: AdmissionRequest, namespace: KubeObject | undefined): string;
}

export function environmentResolver(settings: Config['environments']): EnvironmentResolver {
  const patterns = settings.namespacePatterns.map((p) => ({ environment: p.environment, matches: anyGlob(p.names) }));
  const byName = (name: string): string => patterns.find((p) => p.matches(name))?.environment ?? settings.default;
  return {
    resolve(request, namespace) {
      if (!isNamespaceResource(request) && isClusterScoped(request)) return settings.clusterScoped;
      const label = namespace?.metadata?.labels?.[settings.label];
      // A value nobody configured ("Production", "prod") is treated as the strictest environment, never as none.
      if (label !== undefined && label !== '') return settings.known.includes(label) ? label : settings.unknownLabel;
      const name = isNamespaceResource(request) ? (request.name ?? namespace?.metadata?.name ?? '') : (request.namespace ?? '');
      return byName(name);
    },
  };
}
