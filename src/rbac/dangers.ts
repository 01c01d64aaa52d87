// The rights that defeat the guard or escalate, and which of them one RBAC rule grants where it is bound.
import { API_GROUP } from '../approvals/types.js';
import { ALL, isFullWildcard, nameRestrictionAllows, ruleGrants, targetKey, verbGranted, WRITE_VERBS, type PolicyRule, type Target } from './rights.js';
import { present } from '../kube/present.js';

export const DANGERS = [
  'cluster-admin-like', 'impersonate', 'escalate', 'bind', 'mint-tokens', 'read-secrets', 'switch-guard-off',
  'file-approvals', 'tamper-crds', 'tamper-countersign', 'reroute-api', 'approve-certificates',
] as const;
export type Danger = (typeof DANGERS)[number];

/** Where a binding grants its role's rules: everywhere (ClusterRoleBinding) or in one namespace (RoleBinding). */
export type Scope = { kind: 'cluster' } | { kind: 'namespace'; namespace: string };

export interface Hit {
  danger: Danger;
  verbs: string[];
  resources: Target[];
  resourceNames: string[];
  why: string;
}

/**
 * Which bindings make a right count. A RoleBinding grants nothing on cluster-scoped resources (except `bind` on
 * ClusterRoles, which lets its holder bind any ClusterRole in that namespace); Countersign's secrets and approvals
 * matter only in Countersign's namespace.
 */
type Reach = 'cluster' | 'any-namespace' | 'countersign-namespace';

interface TargetRight extends Target {
  reach: Reach;
  /** Narrower than the check's verbs where only some matter: exec is a create; a namespace matters when deleted. */
  verbs?: readonly string[];
}

interface Check {
  danger: Danger;
  why: string;
  verbs: readonly string[];
  targets: TargetRight[];
}

const RBAC = 'rbac.authorization.k8s.io';
const ADMISSION = 'admissionregistration.k8s.io';
const WRITE: readonly string[] = WRITE_VERBS;

const at = (reach: Reach, group: string, ...resources: string[]): TargetRight[] =>
  resources.map((resource) => {
    const [name = resource, subresource] = resource.split('/');
    return { reach, group, resource: name, ...present({ subresource }) };
  });

// What Countersign runs on and keeps in its namespace: changing any of it (its pods, the Service the webhook
// configuration points at, its secrets, the requests and records it writes) changes the guard.
const COUNTERSIGN_PARTS: TargetRight[] = [
  ...at('countersign-namespace', 'apps', 'deployments'),
  ...at('countersign-namespace', '', 'secrets', 'services', 'pods', 'endpoints', 'configmaps', 'serviceaccounts'),
  { reach: 'countersign-namespace', group: '', resource: 'pods', subresource: 'exec', verbs: ['create'] },
  ...at('countersign-namespace', 'apps', 'replicasets'),
  ...at('countersign-namespace', 'discovery.k8s.io', 'endpointslices'),
  ...at('countersign-namespace', 'networking.k8s.io', 'networkpolicies'),
  ...at('countersign-namespace', 'policy', 'poddisruptionbudgets'),
  ...at('countersign-namespace', RBAC, 'roles', 'rolebindings'),
  ...at('countersign-namespace', API_GROUP, 'approvalrequests', 'approvalrequests/status', 'approvals', 'approvals/status', 'agentactivities'),
  { reach: 'cluster', group: '', resource: 'namespaces', verbs: ['delete'] },
];

const CHECKS: Check[] = [
  {
    danger: 'impersonate', why: 'can act as anyone, including a human approver', verbs: ['impersonate'],
    targets: [
      ...at('cluster', '', 'users', 'groups'), ...at('cluster', 'authentication.k8s.io', 'uids'),
      { reach: 'cluster', group: 'authentication.k8s.io', resource: 'userextras', anySubresource: true },
    ],
  },
  {
    danger: 'impersonate', why: 'can act as other service accounts, which Countersign may not count as agents', verbs: ['impersonate'],
    targets: at('any-namespace', '', 'serviceaccounts'),
  },
  {
    danger: 'escalate', why: 'can write roles granting rights it does not hold', verbs: ['escalate'],
    targets: [...at('any-namespace', RBAC, 'roles'), ...at('cluster', RBAC, 'clusterroles')],
  },
  {
    danger: 'bind', why: 'can bind any role to itself, cluster-admin included', verbs: ['bind'],
    targets: at('any-namespace', RBAC, 'roles', 'clusterroles'),
  },
  {
    danger: 'mint-tokens', why: 'can mint tokens for other service accounts, identities Countersign may not know as agents',
    verbs: ['create'], targets: at('any-namespace', '', 'serviceaccounts/token'),
  },
  {
    danger: 'read-secrets', why: 'can read the allowed signers and service account tokens', verbs: ['get', 'list', 'watch'],
    targets: at('countersign-namespace', '', 'secrets'),
  },
  {
    danger: 'switch-guard-off', why: 'can switch the guard off', verbs: WRITE,
    targets: at('cluster', ADMISSION, 'validatingwebhookconfigurations', 'mutatingwebhookconfigurations', 'validatingadmissionpolicies',
      'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings'),
  },
  {
    danger: 'reroute-api', why: 'can reroute an API group (Countersign\'s included) to a server of its choosing', verbs: WRITE,
    targets: at('cluster', 'apiregistration.k8s.io', 'apiservices'),
  },
  {
    danger: 'approve-certificates', why: 'can approve client certificates, which may name anyone, a human approver included',
    verbs: ['approve'], targets: at('cluster', 'certificates.k8s.io', 'signers'),
  },
  {
    danger: 'file-approvals', why: "can try to file approvals (the webhook refuses agents' approvals, but no agent should hold this)",
    verbs: ['create'], targets: at('countersign-namespace', API_GROUP, 'approvals'),
  },
  {
    danger: 'tamper-crds', why: "can tamper with Countersign itself (its CRDs' validation guards the approvals)", verbs: WRITE,
    targets: at('cluster', 'apiextensions.k8s.io', 'customresourcedefinitions'),
  },
  { danger: 'tamper-countersign', why: 'can tamper with Countersign itself', verbs: WRITE, targets: COUNTERSIGN_PARTS },
];

export interface CheckContext {
  scope: Scope;
  countersignNamespace: string;
}

interface Pair {
  verb: string;
  target: Target;
}

function reaches(reach: Reach, { scope, countersignNamespace }: CheckContext): boolean {
  if (scope.kind === 'cluster' || reach === 'any-namespace') return true;
  return reach === 'countersign-namespace' && scope.namespace === countersignNamespace;
}

function inCountersignNamespace({ scope, countersignNamespace }: CheckContext): boolean {
  return scope.kind === 'namespace' && scope.namespace === countersignNamespace;
}

/** A rule bound in Countersign's namespace: every write it grants there, on whatever resources it names. */
function writesInNamespace(rule: PolicyRule): Pair[] {
  const targets = (rule.apiGroups ?? []).flatMap((group) => (rule.resources ?? []).map((entry): Target => {
    const [resource = entry, subresource] = entry.split('/');
    return { group, resource, ...present({ subresource }) };
  }));
  return WRITE.filter((verb) => verbGranted(rule, verb))
    .flatMap((verb) => targets.filter((target) => nameRestrictionAllows(rule, verb, target)).map((target) => ({ verb, target })));
}

function plain({ group, resource, subresource, anySubresource }: Target): Target {
  return { group, resource, ...present({ subresource }), ...(anySubresource === true ? { anySubresource } : {}) };
}

function pairsOf(check: Check, rule: PolicyRule, context: CheckContext): Pair[] {
  if (check.danger === 'tamper-countersign' && inCountersignNamespace(context)) return writesInNamespace(rule);
  return check.targets
    .filter((target) => reaches(target.reach, context))
    .flatMap((target) => (target.verbs ?? check.verbs).filter((verb) => ruleGrants(rule, verb, target)).map((verb) => ({ verb, target: plain(target) })));
}

/** Already reported for this rule by a more specific check (a `*` group in the rule covers any group). */
function covered(claimed: Pair[], { verb, target }: Pair): boolean {
  return claimed.some((c) => c.verb === verb && (target.group === ALL || target.group === c.target.group)
    && c.target.resource === target.resource && c.target.subresource === target.subresource);
}

function unique<T>(items: T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

function wildcardHit({ scope, countersignNamespace }: CheckContext): Hit {
  const why = scope.kind === 'cluster'
    ? 'cluster-admin-like: every verb on every resource, every right above included'
    : scope.namespace === countersignNamespace
      ? "every verb on everything in Countersign's namespace: can tamper with Countersign itself"
      : `every verb on everything in namespace ${scope.namespace}: can impersonate, mint tokens for and bind roles to its service accounts`;
  return { danger: 'cluster-admin-like', verbs: [ALL], resources: [{ group: ALL, resource: ALL }], resourceNames: [], why };
}

/** What one rule, bound with this scope, grants of the dangerous rights; each right is reported once, by its first check. */
export function dangersOf(rule: PolicyRule, context: CheckContext): Hit[] {
  if ((rule.resources ?? []).length === 0) return [];
  if (isFullWildcard(rule)) return [wildcardHit(context)];
  const claimed: Pair[] = [];
  const hits: Hit[] = [];
  for (const check of CHECKS) {
    const pairs = pairsOf(check, rule, context).filter((pair) => !covered(claimed, pair));
    if (pairs.length === 0) continue;
    claimed.push(...pairs);
    hits.push({
      danger: check.danger,
      verbs: unique(pairs.map((p) => p.verb), (v) => v),
      resources: unique(pairs.map((p) => p.target), targetKey),
      resourceNames: [...(rule.resourceNames ?? [])],
      why: check.why,
    });
  }
  return hits;
}
