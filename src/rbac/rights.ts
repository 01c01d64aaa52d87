// RBAC objects as doctor reads them, and whether one rule grants a right: the same matching as Kubernetes' RBAC
// authorizer (rbac/v1 helpers), so what doctor reports is what the apiserver would allow.

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface ObjectName {
  name?: string;
  namespace?: string;
}

export interface RoleObject {
  metadata?: ObjectName;
  /** For an aggregated ClusterRole, the controller has already copied the aggregated rules here. */
  rules?: PolicyRule[] | null;
}

export interface Subject {
  kind: string;
  name: string;
  namespace?: string;
  apiGroup?: string;
}

export interface BindingObject {
  metadata?: ObjectName;
  roleRef: { kind: string; name: string; apiGroup?: string };
  subjects?: Subject[] | null;
}

export interface ServiceAccountObject {
  metadata?: ObjectName;
}

export interface RbacObjects {
  clusterRoles: RoleObject[];
  roles: RoleObject[];
  clusterRoleBindings: BindingObject[];
  roleBindings: BindingObject[];
  serviceAccounts: ServiceAccountObject[];
}

export const ALL = '*';

/** Verbs that change objects: what "write" means when doctor looks for tampering. */
export const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection'] as const;

/** A resource a right is about. `anySubresource`: every `resource/<key>` (impersonated user extras are `userextras/<key>`). */
export interface Target {
  group: string;
  resource: string;
  subresource?: string;
  anySubresource?: boolean;
}

/** Identifies a target: two findings about the same resource are merged by it. */
export function targetKey({ group, resource, subresource, anySubresource }: Target): string {
  return `${group}/${resource}/${anySubresource === true ? '*' : subresource ?? ''}`;
}

export function verbGranted(rule: PolicyRule, verb: string): boolean {
  return rule.verbs.some((v) => v === ALL || v === verb);
}

export function groupGranted(rule: PolicyRule, group: string): boolean {
  return (rule.apiGroups ?? []).some((g) => g === ALL || g === group);
}

function resourceEntryMatches(entry: string, target: Target): boolean {
  if (entry === ALL) return true;
  if (target.anySubresource === true) return entry.startsWith(`${target.resource}/`) || entry.startsWith('*/');
  const combined = target.subresource === undefined ? target.resource : `${target.resource}/${target.subresource}`;
  if (entry === combined) return true;
  // RBAC's only other wildcard: `*/scale` grants the scale subresource of every resource.
  return target.subresource !== undefined && entry === `*/${target.subresource}`;
}

export function resourceGranted(rule: PolicyRule, target: Target): boolean {
  return (rule.resources ?? []).some((entry) => resourceEntryMatches(entry, target));
}

/**
 * A rule restricted by resourceNames never grants a request that carries no name: a create of a whole object (its
 * name is not known when RBAC is asked) or a deletecollection. Creates on subresources (serviceaccounts/token) do
 * carry the parent's name.
 */
export function nameRestrictionAllows(rule: PolicyRule, verb: string, target: Target): boolean {
  if ((rule.resourceNames ?? []).length === 0) return true;
  if (verb === 'deletecollection') return false;
  return verb !== 'create' || target.subresource !== undefined || target.anySubresource === true;
}

/** Whether the rule grants this verb on this resource (for some name at least, when resourceNames restrict it). */
export function ruleGrants(rule: PolicyRule, verb: string, target: Target): boolean {
  return verbGranted(rule, verb) && groupGranted(rule, target.group) && resourceGranted(rule, target)
    && nameRestrictionAllows(rule, verb, target);
}

/** Every verb on every resource of every group, for any name: what cluster-admin holds. */
export function isFullWildcard(rule: PolicyRule): boolean {
  return rule.verbs.includes(ALL) && (rule.apiGroups ?? []).includes(ALL) && (rule.resources ?? []).includes(ALL)
    && (rule.resourceNames ?? []).length === 0;
}
