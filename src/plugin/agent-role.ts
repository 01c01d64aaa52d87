// What an agent session gets instead of an engineer's inherited rights: application work in the namespaces asked
// for, nothing that reaches around the guard (no Secrets, RBAC, ServiceAccounts or tokens, exec, impersonation).
import type { Config } from '../config/schema.js';
import { agentMatcher, serviceAccountIdentity } from '../core/requester.js';


export const AGENT_ROLE_RULES = [
  {
    apiGroups: ['', 'apps', 'batch', 'autoscaling', 'networking.k8s.io', 'policy'],
    resources: [
      'configmaps', 'services', 'endpoints', 'persistentvolumeclaims', 'pods', 'pods/log', 'events',
      'deployments', 'deployments/scale', 'replicasets', 'replicasets/scale', 'statefulsets', 'statefulsets/scale',
      'daemonsets', 'jobs', 'cronjobs', 'horizontalpodautoscalers', 'ingresses', 'networkpolicies', 'poddisruptionbudgets',
    ],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
];

export function roleName(agent: string): string {
  return `countersign-agent-${agent}`;
}

/** The ServiceAccount must be an agent under Countersign's configuration, or the guard would not see it. */
export function isAgentServiceAccount(config: Config, namespace: string, name: string): boolean {
  return agentMatcher(config.agents).classify(serviceAccountIdentity(namespace, name)).isAgent;
}
