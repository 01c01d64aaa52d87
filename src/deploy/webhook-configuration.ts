// The ValidatingWebhookConfiguration, derived from the same agent settings the core classifies with.
// One source of truth: the control-plane harness registers this object and the Helm chart renders the same one.
import type { Config } from '../config/schema.js';
import { globRegexSource } from '../kube/glob.js';

export const WEBHOOK_NAME = 'agents.countersign.dev';
export const APPROVALS_WEBHOOK_NAME = 'approvals.countersign.dev';

export interface ClientConfig {
  url?: string;
  service?: { namespace: string; name: string; path: string; port: number };
  caBundle?: string;
}

/** A CEL string literal. */
export function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * The apiserver evaluates this before calling the webhook: requests from anyone who is not an agent never reach
 * Countersign, so humans, controllers and system components cannot be blocked by it being down or slow.
 */
export function agentMatchExpression(agents: Config['agents']): string {
  const clauses: string[] = [];
  for (const pattern of agents.serviceAccounts) {
    const [namespace = '*', name = '*'] = pattern.split('/', 2);
    clauses.push(`request.userInfo.username.matches(${celString(`^system:serviceaccount:${globRegexSource(namespace)}:${globRegexSource(name)}$`)})`);
  }
  for (const pattern of agents.usernames) {
    clauses.push(pattern.includes('*') || pattern.includes('?')
      ? `request.userInfo.username.matches(${celString(`^${globRegexSource(pattern)}$`)})`
      : `request.userInfo.username == ${celString(pattern)}`);
  }
  if (agents.groups.length > 0) {
    const exact = agents.groups.filter((g) => !g.includes('*') && !g.includes('?'));
    const globbed = agents.groups.filter((g) => g.includes('*') || g.includes('?'));
    if (exact.length > 0) clauses.push(`request.userInfo.groups.exists(g, g in [${exact.map(celString).join(', ')}])`);
    for (const g of globbed) clauses.push(`request.userInfo.groups.exists(g, g.matches(${celString(`^${globRegexSource(g)}$`)}))`);
  }
  return clauses.length === 0 ? 'false' : clauses.join(' || ');
}

/** Namespaces the webhook is never called for; agents are refused there by the self-defence admission policies. */
export function protectedNamespaces(config: Config): string[] {
  return [config.countersignNamespace, 'kube-system', 'kube-public', 'kube-node-lease'];
}

/**
 * A node's heartbeats (its Lease, its status) are never worth a webhook call: a kubelet misclassified as an agent
 * must not depend on Countersign to stay alive. Only nodes' own: an agent's Lease write (taking a controller's
 * leader lease) and node status write are judged like any other. CSRs are judged (approving one can mint a human's
 * identity), and so is deleting a Node. `subResource` is absent, not empty, when there is none: has().
 */
export const BOOTSTRAP_EXCLUSION =
  "!(request.userInfo.username.startsWith('system:node:') && (" +
  "(request.resource.group == 'coordination.k8s.io' && request.resource.resource == 'leases') || " +
  "(request.resource.group == '' && request.resource.resource == 'nodes' && has(request.subResource) && request.subResource == 'status')))";

export interface WebhookOptions {
  clientConfig: ClientConfig;
  timeoutSeconds?: number;
  name?: string;
}

/** The operations the rules can judge: the webhook must be sent at least these (CONNECT only when a rule asks). */
export function operationsOf(config: Config): string[] {
  const wanted = new Set<string>(['CREATE', 'UPDATE', 'DELETE']);
  for (const rule of config.rules) {
    for (const op of rule.match.operations) {
      if (op === '*') wanted.add('CONNECT');
      else wanted.add(op);
    }
  }
  return ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'].filter((op) => wanted.has(op));
}

export function webhookConfiguration(config: Config, options: WebhookOptions): Record<string, unknown> {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: options.name ?? 'countersign', labels: { 'app.kubernetes.io/name': 'countersign' } },
    webhooks: [
      {
        name: WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: options.clientConfig,
        // Agents must not get through because Countersign is down: Fail. Everyone else is kept out by
        // matchConditions, which the apiserver evaluates even when no webhook pod is alive.
        failurePolicy: 'Fail',
        // Dry runs only ever read; real requests may record pending approvals.
        sideEffects: 'NoneOnDryRun',
        timeoutSeconds: options.timeoutSeconds ?? 5,
        matchPolicy: 'Equivalent',
        rules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: operationsOf(config), resources: ['*/*'], scope: '*' }],
        // Never sent, whoever asks: the system's namespaces and Countersign's own (the self-defence admission
        // policies keep agents out of those inside the apiserver), so a Countersign outage can never touch them.
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: protectedNamespaces(config) }] },
        matchConditions: [
          { name: 'agents-only', expression: agentMatchExpression(config.agents) },
          { name: 'not-bootstrap', expression: BOOTSTRAP_EXCLUSION },
        ],
      },
      {
        // Approvals are checked for everyone: who approves, for what, signed by whom. Only Countersign's own
        // writes (requests, statuses) skip it. Nothing but approval resources is sent, so no one is locked out.
        name: APPROVALS_WEBHOOK_NAME,
        admissionReviewVersions: ['v1'],
        clientConfig: options.clientConfig,
        failurePolicy: 'Fail',
        sideEffects: 'None',
        timeoutSeconds: options.timeoutSeconds ?? 5,
        matchPolicy: 'Equivalent',
        rules: [{
          apiGroups: ['countersign.dev'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'],
          resources: ['approvals', 'approvals/status', 'approvalrequests', 'approvalrequests/status'], scope: 'Namespaced',
        }],
        matchConditions: [{
          name: 'not-countersign',
          expression: `request.userInfo.username != ${celString(`system:serviceaccount:${config.countersignNamespace}:${config.approvals.serviceAccount}`)}`,
        }],
      },
    ],
  };
}
