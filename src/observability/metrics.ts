// Counters and histograms with bounded labels: no object names and no usernames as label values.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  decisions: Counter<'decision' | 'tier' | 'operation' | 'resource' | 'environment' | 'rule' | 'dry_run'>;
  decisionSeconds: Histogram<'decision'>;
  reviewErrors: Counter<'reason'>;
  policyLoads: Counter<'result'>;
  policyGeneration: Gauge;
  policyRules: Gauge;
  tlsReloads: Counter<'result'>;
}

export function createMetrics(withProcessMetrics = true): Metrics {
  const registry = new Registry();
  if (withProcessMetrics) collectDefaultMetrics({ register: registry, prefix: 'countersign_' });
  const registers = [registry];
  return {
    registry,
    decisions: new Counter({
      name: 'countersign_admission_decisions_total',
      help: 'Admission decisions by outcome, tier, operation, resource, environment and deciding rule.',
      labelNames: ['decision', 'tier', 'operation', 'resource', 'environment', 'rule', 'dry_run'],
      registers,
    }),
    decisionSeconds: new Histogram({
      name: 'countersign_admission_decision_duration_seconds',
      help: 'Time from a decoded AdmissionReview to its decision, including namespace lookup and CEL.',
      labelNames: ['decision'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    reviewErrors: new Counter({
      name: 'countersign_admission_review_errors_total',
      help: 'AdmissionReviews refused for bad input (decode) or answered with a fail-closed error (internal).',
      labelNames: ['reason'],
      registers,
    }),
    policyLoads: new Counter({
      name: 'countersign_policy_loads_total',
      help: 'Policy (configuration) loads by result; a failed reload keeps the last good policy serving.',
      labelNames: ['result'],
      registers,
    }),
    policyGeneration: new Gauge({
      name: 'countersign_policy_generation',
      help: 'Increments each time a new policy is accepted.',
      registers,
    }),
    policyRules: new Gauge({ name: 'countersign_policy_rules', help: 'Rules in the serving policy.', registers }),
    tlsReloads: new Counter({
      name: 'countersign_tls_reloads_total',
      help: 'Serving certificate reloads by result.',
      labelNames: ['result'],
      registers,
    }),
  };
}
