// `kubectl countersign agent-credentials`: the fix for inherited permissions. A human issues an agent session its
// own ServiceAccount (owner recorded), a least-privilege Role in the namespaces asked for, and a short-lived
// token, and gets a kubeconfig for the agent. The agent then never runs with the human's rights.
import { orUndefinedOn404, statusCode } from '../kube/api-error.js';
import { readFileSync } from 'node:fs';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Config } from '../config/schema.js';
import { OWNER_ANNOTATION } from '../approvals/types.js';
import { AGENT_ROLE_RULES, isAgentServiceAccount, roleName } from './agent-role.js';

export interface CredentialsRequest {
  agent: string;
  agentsNamespace: string;
  namespaces: string[];
  ttlSeconds: number;
  owner: string;
  config: Config;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function credentialProblems(request: CredentialsRequest): string[] {
  const problems: string[] = [];
  if (!DNS_LABEL.test(request.agent)) problems.push(`--agent: "${request.agent}" is not a valid ServiceAccount name`);
  if (request.namespaces.length === 0) problems.push('--namespace: which namespaces may the agent work in? (-n a,b)');
  for (const ns of request.namespaces) if (!DNS_LABEL.test(ns)) problems.push(`--namespace: "${ns}" is not a namespace name`);
  if (request.namespaces.includes(request.config.countersignNamespace)) problems.push(`--namespace: not Countersign's own namespace (${request.config.countersignNamespace})`);
  // TokenRequest's minimum is 10 minutes; a session credential should not outlive a working day.
  if (request.ttlSeconds < 600 || request.ttlSeconds > 24 * 3600) problems.push('--ttl: between 10m and 24h');
  if (!isAgentServiceAccount(request.config, request.agentsNamespace, request.agent)) {
    problems.push(`${request.agentsNamespace}/${request.agent} would not be an agent under Countersign's configuration (agents.serviceAccounts); the guard would not see it`);
  }
  return problems;
}


async function ensureServiceAccount(core: CoreV1Api, request: CredentialsRequest): Promise<void> {
  const { agent: name, agentsNamespace: namespace, owner } = request;
  const existing = await orUndefinedOn404(core.readNamespacedServiceAccount({ name, namespace }));
  if (existing !== undefined) {
    const recorded = existing.metadata?.annotations?.[OWNER_ANNOTATION];
    if (recorded !== owner) throw new Error(`${namespace}/${name} exists and is owned by ${recorded ?? 'nobody recorded'}, not ${owner}; pick another --agent name`);
    return;
  }
  await core.createNamespacedServiceAccount({
    namespace,
    body: {
      metadata: {
        name, namespace,
        labels: { 'app.kubernetes.io/managed-by': 'countersign' },
        annotations: { [OWNER_ANNOTATION]: owner, 'countersign.dev/namespaces': request.namespaces.join(',') },
      },
      automountServiceAccountToken: false,
    },
  });
}

async function createOrReplace(create: () => Promise<unknown>, replace: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error: unknown) {
    if (statusCode(error) !== 409) throw error;
    await replace();
  }
}

async function grant(rbac: RbacAuthorizationV1Api, request: CredentialsRequest, namespace: string): Promise<void> {
  const name = roleName(request.agent);
  const labels = { 'app.kubernetes.io/managed-by': 'countersign' };
  const role = { metadata: { name, namespace, labels }, rules: AGENT_ROLE_RULES };
  await createOrReplace(
    () => rbac.createNamespacedRole({ namespace, body: role }),
    () => rbac.replaceNamespacedRole({ name, namespace, body: role }),
  );
  const binding = {
    metadata: { name, namespace, labels },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
    subjects: [{ kind: 'ServiceAccount', name: request.agent, namespace: request.agentsNamespace }],
  };
  await createOrReplace(
    () => rbac.createNamespacedRoleBinding({ namespace, body: binding }),
    () => rbac.replaceNamespacedRoleBinding({ name, namespace, body: binding }),
  );
}

function clusterEntry(kc: KubeConfig): Record<string, unknown> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const ca = cluster.caData ?? (cluster.caFile === undefined ? undefined : readFileSync(cluster.caFile).toString('base64'));
  return {
    server: cluster.server,
    ...(ca === undefined ? {} : { 'certificate-authority-data': ca }),
    ...(cluster.skipTLSVerify ? { 'insecure-skip-tls-verify': true } : {}),
  };
}

/** Issues the credentials; returns the agent's kubeconfig (YAML). */
export async function issueAgentCredentials(kc: KubeConfig, request: CredentialsRequest): Promise<{ kubeconfig: string; expires: string }> {
  const core = kc.makeApiClient(CoreV1Api);
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await ensureServiceAccount(core, request);
  for (const namespace of request.namespaces) await grant(rbac, request, namespace);
  const token = await core.createNamespacedServiceAccountToken({
    name: request.agent, namespace: request.agentsNamespace,
    body: { spec: { expirationSeconds: request.ttlSeconds, audiences: [] } },
  });
  const value = token.status?.token;
  if (value === undefined) throw new Error('the apiserver returned no token');
  const user = `${request.agentsNamespace}/${request.agent}`;
  const kubeconfig = {
    apiVersion: 'v1', kind: 'Config',
    clusters: [{ name: 'cluster', cluster: clusterEntry(kc) }],
    users: [{ name: user, user: { token: value } }],
    contexts: [{ name: 'agent', context: { cluster: 'cluster', user, namespace: request.namespaces[0] } }],
    'current-context': 'agent',
  };
  return { kubeconfig: stringify(kubeconfig), expires: token.status?.expirationTimestamp?.toISOString() ?? '' };
}
