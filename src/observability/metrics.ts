// Prometheus metrics with bounded labels: no object names as label values, and agent identities (a small, known
// set) capped at AGENT_LABEL_LIMIT distinct values, the rest counted as "other". Non-agents are "none".
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterPicture, PictureStatus } from '../picture/cluster-picture.js';

/** The most distinct agent identities one process reports as label values; the rest are counted as "other". */
export const AGENT_LABEL_LIMIT = 50;
/** The agent label of a request by anyone who is not an agent. */
export const NOT_AN_AGENT = 'none';
/** The agent label of every agent past AGENT_LABEL_LIMIT. */
export const OTHER_AGENTS = 'other';

/** Why Countersign refused a request it could not judge (fail closed). A bounded set: it is a label value. */
export const FAIL_CLOSED_REASONS = [
  'namespace-unavailable', 'impact-unavailable', 'budget-unavailable', 'approvals-unavailable', 'identity-unavailable',
  'rule-timeout', 'internal-error',
] as const;
export type FailClosedReason = (typeof FAIL_CLOSED_REASONS)[number];

/** ApprovalRequest states as label values (the phases of src/approvals/types.ts, lower case). */
export const APPROVAL_STATES = ['pending', 'approved', 'rejected', 'expired', 'used'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

type DecisionLabel = 'decision' | 'tier' | 'operation' | 'resource' | 'environment' | 'rule' | 'dry_run' | 'agent';

export interface Metrics {
  registry: Registry;
  decisions: Counter<DecisionLabel>;
  decisionSeconds: Histogram<'decision'>;
  reviewErrors: Counter<'reason'>;
  failClosed: Counter<'reason' | 'agent'>;
  gatedImpact: Histogram<'tier'>;
  approvalsGranted: Counter<'agent'>;
  quotaUses: Counter<'agent'>;
  approvalRequests: Gauge<'state'>;
  approvalOldestPendingSeconds: Gauge;
  approvalRefreshes: Counter<'result'>;
  budgetDeletes: Counter<'agent'>;
  budgetConflicts: Counter;
  policyLoads: Counter<'result'>;
  policyGeneration: Gauge;
  policyRules: Gauge;
  policyLastLoadSuccess: Gauge;
  tlsReloads: Counter<'result'>;
  /** TLS connections the apiserver (or anyone) opened: a burst of these is the handshake spiral of a stalled server. */
  tlsConnections: Counter;
  /** The `agent` label value for an agent's username: itself, or "other" once AGENT_LABEL_LIMIT are known. */
  agentLabel(username: string): string;
  /** Where the cluster_picture gauges read from at scrape time (picture.status() is in memory and cheap). */
  observePicture(picture: ClusterPicture): void;
}

/** Keeps the first `limit` distinct values and maps every later one to `overflow`. */
export function boundedLabel(limit: number, overflow: string): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= limit) return overflow;
    seen.add(value);
    return value;
  };
}

/** Objects a gated action would remove: one Deployment's pods up to a namespace of thousands. */
export const IMPACT_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000, 10000];

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function admissionMetrics(registers: Registry[]): Pick<Metrics, 'decisions' | 'decisionSeconds' | 'reviewErrors' | 'failClosed' | 'gatedImpact'> {
  return {
    decisions: new Counter({
      name: 'countersign_admission_decisions_total',
      help: 'Admission decisions by outcome, tier, operation, resource, environment, deciding rule, dry run and agent ("none" for non-agents).',
      labelNames: ['decision', 'tier', 'operation', 'resource', 'environment', 'rule', 'dry_run', 'agent'],
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'countersign_admission_decision_duration_seconds',
      help: 'Time from a decoded AdmissionReview to its decision, including namespace lookup, CEL, budgets and approvals.',
      labelNames: ['decision'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    reviewErrors: new Counter({
      name: 'countersign_admission_review_errors_total',
      help: 'AdmissionReviews refused for bad input (decode) or answered after an internal error of Countersign (internal).',
      labelNames: ['reason'],
      registers,
    }),
    failClosed: new Counter({
      name: 'countersign_admission_fail_closed_total',
      help: 'Requests refused because Countersign could not judge them, by reason and agent.',
      labelNames: ['reason', 'agent'],
      registers,
    }),
    gatedImpact: new Histogram({
      name: 'countersign_gated_impact_objects',
      help: 'Objects a require-approval or deny decision\'s request would remove (its blast radius), when computed and not a dry run.',
      labelNames: ['tier'],
      buckets: IMPACT_BUCKETS,
      registers,
    }),
  };
}

function approvalMetrics(registers: Registry[]): Pick<Metrics, 'approvalsGranted' | 'quotaUses' | 'approvalRequests' | 'approvalOldestPendingSeconds' | 'approvalRefreshes'> {
  return {
    approvalsGranted: new Counter({
      name: 'countersign_approvals_granted_total',
      help: 'Gated agent requests let through by a human approval (single-use or quota), by agent. Dry runs are not counted.',
      labelNames: ['agent'],
      registers,
    }),
    quotaUses: new Counter({
      name: 'countersign_quota_uses_total',
      help: 'Gated agent deletes let through by a bulk quota approval, by agent (also counted in approvals_granted_total).',
      labelNames: ['agent'],
      registers,
    }),
    approvalRequests: new Gauge({
      name: 'countersign_approval_requests',
      help: 'ApprovalRequests in Countersign\'s namespace by state, as of the last periodic refresh.',
      labelNames: ['state'],
      registers,
    }),
    approvalOldestPendingSeconds: new Gauge({
      name: 'countersign_approval_request_oldest_pending_age_seconds',
      help: 'Age of the oldest pending ApprovalRequest (0 when none is pending), as of the last periodic refresh.',
      registers,
    }),
    approvalRefreshes: new Counter({
      name: 'countersign_approval_refreshes_total',
      help: 'Periodic reads of the approval resources for the approval_requests gauges, by result.',
      labelNames: ['result'],
      registers,
    }),
  };
}

function policyMetrics(registers: Registry[]): Pick<Metrics, 'policyLoads' | 'policyGeneration' | 'policyRules' | 'policyLastLoadSuccess' | 'budgetDeletes' | 'budgetConflicts' | 'tlsReloads' | 'tlsConnections'> {
  return {
    policyLoads: new Counter({
      name: 'countersign_policy_loads_total',
      help: 'Policy (configuration) loads by result; a failed reload keeps the last good policy serving.',
      labelNames: ['result'],
      registers,
    }),
    policyGeneration: new Gauge({ name: 'countersign_policy_generation', help: 'Increments each time a new policy is accepted.', registers }),
    policyRules: new Gauge({ name: 'countersign_policy_rules', help: 'Rules in the serving policy.', registers }),
    policyLastLoadSuccess: new Gauge({
      name: 'countersign_policy_last_load_success',
      help: '1 when the last policy load or reload was accepted, 0 when it was refused (the last good policy keeps serving).',
      registers,
    }),
    budgetDeletes: new Counter({
      name: 'countersign_budget_deletes_total',
      help: 'Deletes recorded against an agent\'s bulk budget (its activity record), by agent.',
      labelNames: ['agent'],
      registers,
    }),
    budgetConflicts: new Counter({
      name: 'countersign_budget_conflicts_total',
      help: 'Activity record writes lost to a concurrent replica (compare-and-swap), each followed by a fresh decision.',
      registers,
    }),
    tlsReloads: new Counter({
      name: 'countersign_tls_reloads_total',
      help: 'Serving certificate reloads by result.',
      labelNames: ['result'],
      registers,
    }),
    tlsConnections: new Counter({
      name: 'countersign_tls_connections_opened_total',
      help: 'TLS connections opened to the webhook (handshakes completed); with keep-alive it stays near the clients\' pool size.',
      registers,
    }),
  };
}

function pictureGauge(registers: Registry[], name: string, help: string, read: (status: PictureStatus) => number): (source: () => ClusterPicture | undefined) => void {
  let source: () => ClusterPicture | undefined = () => undefined;
  new Gauge({
    name, help, registers,
    collect() {
      const picture = source();
      if (picture !== undefined) this.set(read(picture.status()));
    },
  });
  return (next) => { source = next; };
}

function pictureMetrics(registers: Registry[]): (picture: ClusterPicture) => void {
  const sources = [
    pictureGauge(registers, 'countersign_cluster_picture_ready', '1 when every watched resource has listed and none is stale, else 0.', (s) => (s.ready ? 1 : 0)),
    pictureGauge(registers, 'countersign_cluster_picture_age_seconds', 'Seconds since the stalest watched resource was last confirmed current by the API server.', (s) => s.ageSeconds),
    pictureGauge(registers, 'countersign_cluster_picture_objects', 'Objects in the cluster picture.', (s) => s.objects),
    pictureGauge(registers, 'countersign_cluster_picture_resources', 'Resources (group and plural) the cluster picture watches.', (s) => s.resources),
    pictureGauge(registers, 'countersign_cluster_picture_unknown_groups', 'API groups discovery could not describe: agents\' namespace deletes are refused while any.', (s) => s.unknownGroups?.length ?? 0),
  ];
  return (picture) => { for (const set of sources) set(() => picture); };
}

/** prom-client's gauges named like counters: `promtool check metrics` rejects them, so they are not exported. */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export function createMetrics(withProcessMetrics = true): Metrics {
  const registry = new Registry();
  if (withProcessMetrics) {
    collectDefaultMetrics({ register: registry, prefix: 'countersign_' });
    for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(`countersign_${name}`);
  }
  const registers = [registry];
  const agentLabel = boundedLabel(AGENT_LABEL_LIMIT, OTHER_AGENTS);
  const metrics: Metrics = {
    registry,
    ...admissionMetrics(registers),
    ...approvalMetrics(registers),
    ...policyMetrics(registers),
    agentLabel,
    observePicture: pictureMetrics(registers),
  };
  // Series with a fixed set of label values exist from the start at 0: rate() and increase() cannot see a
  // counter's first event otherwise, and an alert on "any error" would need a second one.
  for (const reason of ['decode', 'internal']) metrics.reviewErrors.inc({ reason }, 0);
  for (const result of ['ok', 'error']) {
    metrics.policyLoads.inc({ result }, 0);
    metrics.tlsReloads.inc({ result }, 0);
    metrics.approvalRefreshes.inc({ result }, 0);
  }
  return metrics;
}
