// The metric names, types and labels others write dashboards and alerts against, held to Prometheus' naming
// conventions (https://prometheus.io/docs/practices/naming/) here, and by `promtool check metrics` (the promtool
// `npm run prometheus:build` writes; npm test builds it before the unit tests, and the test fails without it).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { observeCluster } from '../../../src/observability/observe-cluster.js';
import { APPROVAL_STATES, createMetrics, FAIL_CLOSED_REASONS, type Metrics } from '../../../src/observability/metrics.js';
import { createLogger } from '../../../src/observability/logger.js';
import { approval, approve, deps as gateDeps } from '../../helpers/approval-flow.js';
import { defaultJudge, heldOutReview } from '../../helpers/fixtures.js';
import { memoryStore } from '../../helpers/memory-store.js';
import { requireTool } from '../../harness/prometheus-tools.ts';
import { edgeDeps, review, samples } from '../../helpers/metrics.js';

type Kind = 'counter' | 'gauge' | 'histogram';

/** The contract: name, type and label names. Dashboards and the PrometheusRule depend on every one of these. */
const CONTRACT: [string, Kind, string[]][] = [
  ['countersign_admission_decisions_total', 'counter', ['decision', 'tier', 'operation', 'resource', 'environment', 'rule', 'dry_run', 'agent']],
  ['countersign_admission_decision_duration_seconds', 'histogram', ['decision']],
  ['countersign_admission_review_errors_total', 'counter', ['reason']],
  ['countersign_admission_fail_closed_total', 'counter', ['reason', 'agent']],
  ['countersign_gated_impact_objects', 'histogram', ['tier']],
  ['countersign_approvals_granted_total', 'counter', ['agent']],
  ['countersign_quota_uses_total', 'counter', ['agent']],
  ['countersign_approval_requests', 'gauge', ['state']],
  ['countersign_approval_request_oldest_pending_age_seconds', 'gauge', []],
  ['countersign_approval_refreshes_total', 'counter', ['result']],
  ['countersign_budget_deletes_total', 'counter', ['agent']],
  ['countersign_budget_conflicts_total', 'counter', []],
  ['countersign_policy_loads_total', 'counter', ['result']],
  ['countersign_policy_generation', 'gauge', []],
  ['countersign_policy_rules', 'gauge', []],
  ['countersign_policy_last_load_success', 'gauge', []],
  ['countersign_cluster_picture_ready', 'gauge', []],
  ['countersign_cluster_picture_age_seconds', 'gauge', []],
  ['countersign_cluster_picture_objects', 'gauge', []],
  ['countersign_cluster_picture_resources', 'gauge', []],
  ['countersign_cluster_picture_unknown_groups', 'gauge', []],
  ['countersign_tls_reloads_total', 'counter', ['result']],
  ['countersign_tls_connections_opened_total', 'counter', []],
];

/** Label values that must come from a fixed vocabulary, by label name (per metric where they differ). */
const VOCABULARY: Record<string, readonly string[]> = {
  decision: ['allowed', 'denied'],
  tier: ['allow', 'audit', 'require-approval', 'deny'],
  operation: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'],
  dry_run: ['true', 'false'],
  result: ['ok', 'error'],
  state: APPROVAL_STATES,
  'countersign_admission_fail_closed_total/reason': FAIL_CLOSED_REASONS,
  'countersign_admission_review_errors_total/reason': ['decode', 'internal'],
};

/** Labels that would carry an object's or a human's identity: unbounded, and not for metrics. */
const FORBIDDEN_LABELS = ['name', 'namespace', 'uid', 'user', 'username', 'object', 'digest', 'approver', 'request'];

const BASE_UNITS_ONLY = /_(milliseconds|millis|ms|microseconds|nanoseconds|minutes|hours|days|kilobytes|megabytes|gigabytes|percent)(_|$)/;

/** A registry with every metric carrying samples, from a short run through the real edge. */
async function exercised(): Promise<Metrics> {
  const store = memoryStore();
  const deps = { ...edgeDeps(await defaultJudge(), { approvals: gateDeps(store) }), metrics: createMetrics(true) };
  const { metrics } = deps;
  const census = observeCluster(metrics, { picture: deps.picture!, approvals: { store }, config: deps.judge().policy.config, log: createLogger('silent') });
  try {
    await review(deps, heldOutReview('agent-delete-production-deployment').request);
    const request = [...store.requests.values()][0]!;
    await approve(deps.judge(), store, approval('ok', { requestName: request.metadata.name, digest: request.spec.digest }));
    for (const name of ['agent-delete-production-deployment', 'agent-bind-cluster-admin', 'human-delete-production-namespace', 'agent-create-production-configmap']) {
      await review(deps, heldOutReview(name).request);
    }
    await review({ ...deps, namespaces: { ...deps.namespaces, isReady: () => false } }, heldOutReview('agent-create-development-pod').request);
    metrics.quotaUses.inc({ agent: metrics.agentLabel('system:serviceaccount:agents:coder') });
    metrics.budgetConflicts.inc();
    metrics.policyLoads.inc({ result: 'ok' });
    metrics.tlsReloads.inc({ result: 'ok' });
    metrics.reviewErrors.inc({ reason: 'decode' });
    await census.refresh();
  } finally {
    census.stop();
  }
  return metrics;
}

function labelNamesOf(metrics: Metrics, name: string): string[] {
  const metric = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] } | undefined;
  if (metric === undefined) throw new Error(`${name} is not registered`);
  return [...(metric.labelNames ?? [])];
}

describe('metric names, types and labels', () => {
  let metrics: Metrics;
  beforeAll(async () => { metrics = await exercised(); });

  it('exports exactly the contract, with its types and label names', async () => {
    const own = (await metrics.registry.getMetricsAsJSON()).filter((m) => !/^countersign_(process|nodejs)_/.test(m.name));
    expect(own.map((m) => [m.name, String(m.type)]).sort()).toEqual(CONTRACT.map(([name, type]) => [name, type]).sort());
    for (const [name, , labels] of CONTRACT) expect([name, labelNamesOf(metrics, name)]).toEqual([name, labels]);
  });

  it('follows the naming conventions: prefix, snake case, _total for counters only, base units, a help text', async () => {
    const all = await metrics.registry.getMetricsAsJSON();
    // The contract's metrics and the process defaults: the loop checks every one of them, and there are some.
    expect(all.length).toBeGreaterThan(CONTRACT.length);
    for (const metric of all) {
      const { name, help } = metric;
      const type = String(metric.type);
      expect(name).toMatch(/^countersign_[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
      expect([name, name.endsWith('_total')]).toEqual([name, type === 'counter']);
      expect(name).not.toMatch(BASE_UNITS_ONLY);
      if (/(age|duration|latency|time)(_|$)/.test(name)) expect(name).toMatch(/_seconds(_total)?$/);
      expect(help.trim().length).toBeGreaterThan(10);
      if (!/^countersign_(process|nodejs)_/.test(name)) expect([name, help]).toEqual([name, expect.stringMatching(/^[A-Z0-9'].*\.$/)]);
      for (const label of labelNamesOf(metrics, name)) {
        expect(label).toMatch(/^[a-z][a-z0-9_]*$/);
        expect(['le', 'quantile', ...FORBIDDEN_LABELS]).not.toContain(label);
      }
    }
  });

  it('uses only bounded label values: fixed vocabularies, and agents or "none"/"other" for agent', async () => {
    const all = await samples(metrics);
    const seen = new Set<string>();
    for (const sample of all.filter((s) => s.name.startsWith('countersign_') && !/^countersign_(process|nodejs)_/.test(s.name))) {
      for (const [label, value] of Object.entries(sample.labels)) {
        const base = sample.name.replace(/_(bucket|sum|count)$/, '');
        const vocabulary = VOCABULARY[`${base}/${label}`] ?? VOCABULARY[label];
        if (vocabulary !== undefined) expect([sample.name, label, vocabulary.includes(value)]).toEqual([sample.name, label, true]);
        if (label === 'agent') expect(value).toMatch(/^(system:serviceaccount:[a-z0-9-]+:[a-z0-9-]+|none|other)$/);
        seen.add(`${base}/${label}`);
      }
    }
    // The run above gave every labelled metric of the contract at least one sample.
    for (const [name, , labels] of CONTRACT) for (const label of labels) expect(seen).toContain(`${name}/${label}`);
  });

  it('has histogram buckets in ascending order, covering the webhook timeout for latency', () => {
    for (const name of ['countersign_admission_decision_duration_seconds', 'countersign_gated_impact_objects']) {
      const { upperBounds } = metrics.registry.getSingleMetric(name) as unknown as { upperBounds: number[] };
      expect([...upperBounds].sort((a, b) => a - b)).toEqual(upperBounds);
    }
    const latency = (metrics.registry.getSingleMetric('countersign_admission_decision_duration_seconds') as unknown as { upperBounds: number[] }).upperBounds;
    // The webhook's default timeout is 5 s (src/deploy/webhook-configuration.ts); an alert near it needs buckets there.
    expect(latency).toEqual(expect.arrayContaining([1, 2.5, 5]));
  });

  it('passes promtool check metrics', async () => {
    const result = spawnSync(requireTool('promtool'), ['check', 'metrics'], { input: await metrics.registry.metrics(), encoding: 'utf8' });
    expect({ status: result.status, problems: `${result.stdout}${result.stderr}`.trim() }).toEqual({ status: 0, problems: '' });
  });
});
