// Who is asking. Identity comes only from the apiserver-authenticated userInfo, never from the object.
import type { UserInfo } from '../kube/types.js';
import type { Config } from '../config/schema.js';
import { anyGlob, type Glob } from '../kube/glob.js';
import { present } from '../kube/present.js';

export interface Requester {
  isAgent: boolean;
  username: string;
  groups: string[];
  serviceAccount?: { namespace: string; name: string };
  /** Why this requester counts as an agent, e.g. `serviceAccount agents/*`: for the record. */
  matchedBy?: string;
}

const SA_PREFIX = 'system:serviceaccount:';

export function parseServiceAccount(username: string): { namespace: string; name: string } | undefined {
  if (!username.startsWith(SA_PREFIX)) return undefined;
  const [namespace, name, ...rest] = username.slice(SA_PREFIX.length).split(':');
  if (namespace === undefined || name === undefined || rest.length > 0 || namespace === '' || name === '') return undefined;
  return { namespace, name };
}

export interface AgentMatcher {
  classify(user: UserInfo): Requester;
}

export function agentMatcher(agents: Config['agents']): AgentMatcher {
  const serviceAccount: Glob = anyGlob(agents.serviceAccounts);
  const username: Glob = anyGlob(agents.usernames);
  const group: Glob = anyGlob(agents.groups);
  return {
    classify(user: UserInfo): Requester {
      const sa = parseServiceAccount(user.username);
      const base = { username: user.username, groups: user.groups, ...present({ serviceAccount: sa }) };
      if (sa !== undefined && serviceAccount(`${sa.namespace}/${sa.name}`)) {
        return { ...base, isAgent: true, matchedBy: `serviceAccount ${sa.namespace}/${sa.name}` };
      }
      if (username(user.username)) return { ...base, isAgent: true, matchedBy: `username ${user.username}` };
      const viaGroup = user.groups.find(group);
      if (viaGroup !== undefined) return { ...base, isAgent: true, matchedBy: `group ${viaGroup}` };
      return { ...base, isAgent: false };
    },
  };
}

/** The identity the apiserver gives a ServiceAccount's requests: its username and groups. */
export function serviceAccountIdentity(namespace: string, name: string): { username: string; groups: string[] } {
  return {
    username: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}
