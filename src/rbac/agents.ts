// Which identities in the cluster's RBAC are agents, by the same matching the webhook uses, and which bindings
// reach each of them (directly, or through a group every request of theirs carries).
import type { Config } from '../config/schema.js';
import { anyGlob } from '../kube/glob.js';
import { agentMatcher, parseServiceAccount, serviceAccountIdentity } from '../core/requester.js';
import type { BindingObject, RbacObjects, Subject } from './rights.js';

export type AgentKind = 'ServiceAccount' | 'User' | 'Group';

export interface AgentIdentity {
  kind: AgentKind;
  /** `namespace/name` for a ServiceAccount, the username or the group's name otherwise. */
  name: string;
  /** What the apiserver authenticates it as; a group has none (its members have their own). */
  username?: string;
  /** Groups on every request it makes: bindings to these reach it too. */
  groups: string[];
  /** Why Countersign counts it as an agent. */
  matchedBy: string;
}

const AUTHENTICATED = 'system:authenticated';
const KIND_ORDER: AgentKind[] = ['ServiceAccount', 'User', 'Group'];

// A pattern without wildcards names one identity: it is an agent whether or not any binding mentions it yet.
const literal = (pattern: string): boolean => !pattern.includes('*') && !pattern.includes('?');

function subjectsOf(bindings: BindingObject[]): { subject: Subject; namespace: string }[] {
  return bindings.flatMap((b) => (b.subjects ?? []).map((subject) => ({ subject, namespace: b.metadata?.namespace ?? '' })));
}

interface Candidates {
  serviceAccounts: Set<string>;
  users: Set<string>;
  groups: Set<string>;
}

function addUser(candidates: Candidates, username: string): void {
  const sa = parseServiceAccount(username);
  if (sa === undefined) candidates.users.add(username);
  else candidates.serviceAccounts.add(`${sa.namespace}/${sa.name}`);
}

/** Every identity RBAC or the configuration names: ServiceAccounts that exist, and every binding's subjects. */
function candidatesOf(rbac: RbacObjects, agents: Config['agents']): Candidates {
  const candidates: Candidates = { serviceAccounts: new Set(), users: new Set(), groups: new Set() };
  for (const sa of rbac.serviceAccounts) candidates.serviceAccounts.add(`${sa.metadata?.namespace ?? ''}/${sa.metadata?.name ?? ''}`);
  for (const { subject, namespace } of subjectsOf([...rbac.clusterRoleBindings, ...rbac.roleBindings])) {
    // A RoleBinding's ServiceAccount subject without a namespace means the binding's own, as in the authorizer.
    if (subject.kind === 'ServiceAccount') candidates.serviceAccounts.add(`${subject.namespace ?? namespace}/${subject.name}`);
    if (subject.kind === 'User') addUser(candidates, subject.name);
    if (subject.kind === 'Group') candidates.groups.add(subject.name);
  }
  for (const username of agents.usernames.filter(literal)) addUser(candidates, username);
  for (const group of agents.groups.filter(literal)) candidates.groups.add(group);
  return candidates;
}

function byKindThenName(a: AgentIdentity, b: AgentIdentity): number {
  return KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name);
}

export function discoverAgents(rbac: RbacObjects, agents: Config['agents']): AgentIdentity[] {
  const matcher = agentMatcher(agents);
  const agentGroup = anyGlob(agents.groups);
  const candidates = candidatesOf(rbac, agents);
  const found: AgentIdentity[] = [];
  for (const key of candidates.serviceAccounts) {
    const [namespace = '', name = ''] = key.split('/');
    const user = serviceAccountIdentity(namespace, name);
    const requester = matcher.classify(user);
    if (requester.isAgent) found.push({ kind: 'ServiceAccount', name: key, ...user, matchedBy: requester.matchedBy ?? '' });
  }
  for (const username of candidates.users) {
    // A user's groups come from its authenticator, which RBAC does not show: only system:authenticated is certain.
    const requester = matcher.classify({ username, groups: [AUTHENTICATED] });
    if (requester.isAgent) found.push({ kind: 'User', name: username, username, groups: [AUTHENTICATED], matchedBy: requester.matchedBy ?? '' });
  }
  for (const group of [...candidates.groups].filter(agentGroup)) {
    found.push({ kind: 'Group', name: group, groups: [AUTHENTICATED], matchedBy: `group ${group}` });
  }
  return found.sort(byKindThenName);
}

export function agentLabel(agent: AgentIdentity): string {
  return `${agent.kind === 'ServiceAccount' ? 'serviceaccount' : agent.kind.toLowerCase()} ${agent.name}`;
}

/** How a binding reaches an agent: `{}` when it names the agent, `{ via: 'group X' }` through one of its groups. */
export interface BindingReach {
  via?: string;
}

function subjectReaches(agent: AgentIdentity, subject: Subject, bindingNamespace: string): BindingReach | undefined {
  switch (subject.kind) {
    case 'ServiceAccount':
      return agent.kind === 'ServiceAccount' && agent.name === `${subject.namespace ?? bindingNamespace}/${subject.name}` ? {} : undefined;
    case 'User':
      return agent.username !== undefined && agent.username === subject.name ? {} : undefined;
    case 'Group':
      if (agent.kind === 'Group' && agent.name === subject.name) return {};
      return agent.groups.includes(subject.name) ? { via: `group ${subject.name}` } : undefined;
    default:
      return undefined;
  }
}

export function bindingReaches(agent: AgentIdentity, binding: BindingObject): BindingReach | undefined {
  const reaches = (binding.subjects ?? [])
    .map((s) => subjectReaches(agent, s, binding.metadata?.namespace ?? ''))
    .filter((r) => r !== undefined);
  return reaches.find((r) => r.via === undefined) ?? reaches[0];
}
