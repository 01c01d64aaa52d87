// doctor's judgement, pure: RBAC objects and the agents' configuration in, each agent's dangerous rights out, each
// with the binding and role that grant it.
import type { Config } from '../config/schema.js';
import { agentLabel, bindingReaches, discoverAgents, type AgentIdentity, type AgentKind } from './agents.js';
import { dangersOf, DANGERS, type Hit, type Scope } from './dangers.js';
import { targetKey, type BindingObject, type PolicyRule, type RbacObjects, type RoleObject } from './rights.js';
import { present } from '../kube/present.js';

export interface GrantedBy {
  /** `ClusterRoleBinding NAME` or `RoleBinding NAMESPACE/NAME`. */
  binding: string;
  /** `ClusterRole NAME` or `Role NAMESPACE/NAME`. */
  role: string;
  /** `group NAME` when the binding names a group the agent is in rather than the agent. */
  via?: string;
}

export interface Finding extends Hit {
  /** `cluster-wide` or `namespace NAME`. */
  scope: string;
  grantedBy: GrantedBy;
}

export interface AgentReport {
  agent: string;
  kind: AgentKind;
  name: string;
  matchedBy: string;
  findings: Finding[];
  /** Bindings that reach the agent but refer to a role that does not exist (yet). */
  notes: string[];
}

export interface DoctorReport {
  countersignNamespace: string;
  agents: AgentReport[];
  summary: { agents: number; findings: number };
}

export interface DoctorInput {
  rbac: RbacObjects;
  agents: Config['agents'];
  countersignNamespace: string;
}

/** A binding with its role resolved: what it grants and where. */
interface Bound {
  binding: BindingObject;
  label: string;
  role: string;
  /** Undefined when the role it refers to does not exist. */
  rules: PolicyRule[] | undefined;
  scope: Scope;
}

const nameOf = (o: { metadata?: { name?: string } }): string => o.metadata?.name ?? '';
const namespaceOf = (o: { metadata?: { namespace?: string } }): string => o.metadata?.namespace ?? '';

function rulesOf(role: RoleObject | undefined): PolicyRule[] | undefined {
  return role === undefined ? undefined : role.rules ?? [];
}

function resolveBindings(rbac: RbacObjects): Bound[] {
  const clusterRoles = new Map(rbac.clusterRoles.map((r) => [nameOf(r), r]));
  const roles = new Map(rbac.roles.map((r) => [`${namespaceOf(r)}/${nameOf(r)}`, r]));
  const cluster = rbac.clusterRoleBindings
    .filter((b) => b.roleRef.kind === 'ClusterRole')
    .map((b): Bound => ({
      binding: b, label: `ClusterRoleBinding ${nameOf(b)}`, role: `ClusterRole ${b.roleRef.name}`,
      rules: rulesOf(clusterRoles.get(b.roleRef.name)), scope: { kind: 'cluster' },
    }));
  const namespaced = rbac.roleBindings.map((b): Bound => {
    const namespace = namespaceOf(b);
    const isRole = b.roleRef.kind === 'Role';
    return {
      binding: b, label: `RoleBinding ${namespace}/${nameOf(b)}`,
      role: isRole ? `Role ${namespace}/${b.roleRef.name}` : `ClusterRole ${b.roleRef.name}`,
      rules: rulesOf(isRole ? roles.get(`${namespace}/${b.roleRef.name}`) : clusterRoles.get(b.roleRef.name)),
      scope: { kind: 'namespace', namespace },
    };
  });
  return [...cluster, ...namespaced];
}

function scopeText(scope: Scope): string {
  return scope.kind === 'cluster' ? 'cluster-wide' : `namespace ${scope.namespace}`;
}

/** One finding per right and grant: several rules of one role granting the same kind of right are merged. */
function merge(findings: Finding[]): Finding[] {
  const merged = new Map<string, Finding>();
  for (const f of findings) {
    const key = JSON.stringify([f.danger, f.why, f.scope, f.grantedBy, f.resourceNames]);
    const seen = merged.get(key);
    if (seen === undefined) {
      merged.set(key, { ...f, verbs: [...f.verbs], resources: [...f.resources] });
      continue;
    }
    seen.verbs.push(...f.verbs.filter((v) => !seen.verbs.includes(v)));
    const known = new Set(seen.resources.map(targetKey));
    seen.resources.push(...f.resources.filter((t) => !known.has(targetKey(t))));
  }
  return [...merged.values()];
}

function byDangerThenGrant(a: Finding, b: Finding): number {
  return DANGERS.indexOf(a.danger) - DANGERS.indexOf(b.danger) || a.grantedBy.binding.localeCompare(b.grantedBy.binding);
}

function reportFor(agent: AgentIdentity, bound: Bound[], countersignNamespace: string): AgentReport {
  const findings: Finding[] = [];
  const notes: string[] = [];
  for (const b of bound) {
    const reach = bindingReaches(agent, b.binding);
    if (reach === undefined) continue;
    if (b.rules === undefined) {
      notes.push(`${b.label} refers to ${b.role}, which does not exist: whoever creates it grants this agent its rules`);
      continue;
    }
    const grantedBy: GrantedBy = { binding: b.label, role: b.role, ...present({ via: reach.via }) };
    for (const rule of b.rules) {
      for (const hit of dangersOf(rule, { scope: b.scope, countersignNamespace })) findings.push({ ...hit, scope: scopeText(b.scope), grantedBy: { ...grantedBy } });
    }
  }
  return { agent: agentLabel(agent), kind: agent.kind, name: agent.name, matchedBy: agent.matchedBy, findings: merge(findings).sort(byDangerThenGrant), notes };
}

export function diagnose({ rbac, agents, countersignNamespace }: DoctorInput): DoctorReport {
  const bound = resolveBindings(rbac);
  const reports = discoverAgents(rbac, agents).map((agent) => reportFor(agent, bound, countersignNamespace));
  return {
    countersignNamespace,
    agents: reports,
    summary: { agents: reports.length, findings: reports.reduce((n, r) => n + r.findings.length, 0) },
  };
}
