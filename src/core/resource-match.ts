// Operation, resource and scope matching with Kubernetes' own rule semantics:
// `*` is every resource but no subresource, `*/*` everything, `pods/*` every subresource of pods, `*/scale`.
import type { AdmissionRequest } from '../kube/types.js';
import type { RuleMatch } from '../config/schema.js';
import { isClusterScoped } from './environment.js';

function resourceMatches(pattern: string, resource: string, subResource: string): boolean {
  // The same split as the apiserver's rule matcher: "pods" is ("pods", ""), "pods/*" is ("pods", "*").
  const slash = pattern.indexOf('/');
  const patternResource = slash < 0 ? pattern : pattern.slice(0, slash);
  const patternSub = slash < 0 ? '' : pattern.slice(slash + 1);
  return (patternResource === '*' || patternResource === resource) && (patternSub === '*' || patternSub === subResource);
}

export function ruleMatches(match: RuleMatch, request: AdmissionRequest, environment: string): boolean {
  if (!match.operations.includes('*') && !match.operations.includes(request.operation)) return false;
  const group = request.resource.group;
  if (!match.apiGroups.includes('*') && !match.apiGroups.includes(group)) return false;
  const sub = request.subResource ?? '';
  if (!match.resources.some((p) => resourceMatches(p, request.resource.resource, sub))) return false;
  if (!match.environments.includes('*') && !match.environments.includes(environment)) return false;
  if (match.scope === '*') return true;
  return (match.scope === 'Cluster') === isClusterScoped(request);
}
