// The metrics read from outside a request: ApprovalRequests by state (refreshed periodically from the store the
// edge writes them to), the cluster picture's state at scrape time, and the policy's last load.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/config/load.js';
import type { ClusterPicture, PictureStatus } from '../../../src/picture/cluster-picture.js';
import { approvalCensus, startApprovalCensus } from '../../../src/observability/approval-census.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { observeCluster } from '../../../src/observability/observe-cluster.js';
import { policyHolder } from '../../../src/server/policy-holder.js';
import { approval, approve, deps as gateDeps, minutes, NOW } from '../../helpers/approval-flow.js';
import { defaultJudge, EMPTY_CLUSTER, heldOutReview } from '../../helpers/fixtures.js';
import { memoryStore, type MemoryStore } from '../../helpers/memory-store.js';
import { edgeDeps, review, sampleSum } from '../../helpers/metrics.js';

const log = createLogger('silent');

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 5 s');
    await new Promise((done) => setTimeout(done, 5));
  }
}

async function states(metrics: ReturnType<typeof createMetrics>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const state of ['pending', 'approved', 'rejected', 'expired', 'used']) out[state] = await sampleSum(metrics, 'countersign_approval_requests', { state });
  return out;
}

/** The request the edge recorded for a fixture's action, created `ageSeconds` before NOW (as the apiserver stamps it). */
function recorded(store: MemoryStore, rule: string, ageSeconds: number): { requestName: string; digest: string } {
  const request = [...store.requests.values()].find((r) => r.spec.rule === rule)!;
  store.requests.set(request.metadata.name, { ...request, metadata: { ...request.metadata, creationTimestamp: new Date(NOW.getTime() - ageSeconds * 1000).toISOString() } });
  return { requestName: request.metadata.name, digest: request.spec.digest };
}

describe('countersign_approval_requests', () => {
  it('counts the requests the edge recorded by the phase kubectl countersign list shows, and the oldest pending one\'s age', async () => {
    const store = memoryStore();
    const judge = await defaultJudge();
    const edge = edgeDeps(judge, { approvals: gateDeps(store), picture: EMPTY_CLUSTER });
    const census = startApprovalCensus({ store, metrics: edge.metrics, log, now: () => NOW }, 3_600_000);
    try {
      await review(edge, heldOutReview('agent-delete-production-deployment').request);
      await review(edge, heldOutReview('agent-delete-production-namespace').request);
      await review(edge, heldOutReview('agent-scale-production-to-zero').request);
      await review(edge, heldOutReview('agent-bind-cluster-admin').request);
      expect(store.requests.size).toBe(3);
      const deployment = recorded(store, 'production-delete', 30);
      const namespace = recorded(store, 'production-namespace-delete', 600);
      recorded(store, 'production-scale-down', 90);
      await census.refresh();
      expect(await states(edge.metrics)).toEqual({ pending: 3, approved: 0, rejected: 0, expired: 0, used: 0 });
      expect(await sampleSum(edge.metrics, 'countersign_approval_request_oldest_pending_age_seconds')).toBe(600);

      await approve(judge, store, approval('ok', deployment));
      await approve(judge, store, approval('no', { ...namespace, decision: 'Reject', reason: 'not today' }));
      await census.refresh();
      expect(await states(edge.metrics)).toEqual({ pending: 1, approved: 1, rejected: 1, expired: 0, used: 0 });
      expect(await sampleSum(edge.metrics, 'countersign_approval_request_oldest_pending_age_seconds')).toBe(90);

      expect((await review(edge, heldOutReview('agent-delete-production-deployment').request)).allowed).toBe(true);
      const scale = [...store.requests.values()].find((r) => r.spec.rule === 'production-scale-down')!;
      store.requests.set(scale.metadata.name, { ...scale, spec: { ...scale.spec, expiresAt: minutes(-1) } });
      await census.refresh();
      expect(await states(edge.metrics)).toEqual({ pending: 0, approved: 0, rejected: 1, expired: 1, used: 1 });
      expect(await sampleSum(edge.metrics, 'countersign_approval_request_oldest_pending_age_seconds')).toBe(0);
      expect(await sampleSum(edge.metrics, 'countersign_approval_refreshes_total', { result: 'ok' })).toBe(4);
    } finally {
      census.stop();
    }
  });

  it('keeps the last values when the store cannot be read, and counts the failed refresh', async () => {
    const metrics = createMetrics(false);
    let fail = false;
    const store = {
      listAll: () => (fail ? Promise.reject(new Error('forbidden')) : Promise.resolve({ requests: [], approvals: [] })),
    };
    const census = startApprovalCensus({ store, metrics, log, now: () => NOW }, 3_600_000);
    try {
      await census.refresh();
      fail = true;
      await census.refresh();
      expect(await states(metrics)).toEqual({ pending: 0, approved: 0, rejected: 0, expired: 0, used: 0 });
      expect(await sampleSum(metrics, 'countersign_approval_refreshes_total', { result: 'error' })).toBe(1);
    } finally {
      census.stop();
    }
  });

  it('refreshes on its own every interval, one read at a time, off the scrape path', async () => {
    const metrics = createMetrics(false);
    const pending: (() => void)[] = [];
    const store = {
      listAll: () => new Promise<{ requests: never[]; approvals: never[] }>((done) => { pending.push(() => { done({ requests: [], approvals: [] }); }); }),
    };
    const census = startApprovalCensus({ store, metrics, log, now: () => NOW }, 5);
    try {
      // The first read hangs: ticks come and go, and no second read piles up behind it; a scrape reads nothing.
      await new Promise((done) => setTimeout(done, 60));
      await metrics.registry.metrics();
      expect(pending.length).toBe(1);
      pending[0]!();
      await waitUntil(() => pending.length === 2);
    } finally {
      census.stop();
    }
    pending[1]!();
    await new Promise((done) => setTimeout(done, 40));
    expect(pending.length).toBe(2);
    expect(await sampleSum(metrics, 'countersign_approval_refreshes_total', { result: 'ok' })).toBe(2);
  });

  it('ignores approvals of another action and approvals without their request', async () => {
    const store = memoryStore();
    await review(edgeDeps(await defaultJudge(), { approvals: gateDeps(store) }), heldOutReview('agent-delete-production-deployment').request);
    const request = [...store.requests.values()][0]!;
    const foreign = approval('x', { requestName: request.metadata.name, digest: 'sha256:other' });
    const orphan = approval('y', { requestName: 'cs-gone', digest: request.spec.digest });
    // Without a creationTimestamp (the apiserver always sets one) a pending request has no age to report.
    expect(approvalCensus([request], [foreign, orphan], NOW)).toEqual({
      states: { pending: 1, approved: 0, rejected: 0, expired: 0, used: 0 }, oldestPendingSeconds: 0,
    });
  });
});

describe('countersign_cluster_picture_*', () => {
  it('reads the picture\'s status at scrape time', async () => {
    let status: PictureStatus = { ready: false, reason: 'not yet listed', objects: 12, resources: 3, ageSeconds: 0.5 };
    const picture: ClusterPicture = { view: EMPTY_CLUSTER.view, status: () => status, close: () => Promise.resolve() };
    const metrics = createMetrics(false);
    const stop = observeCluster(metrics, { picture, config: (await defaultJudge()).policy.config, log });
    const gauge = (name: string): Promise<number> => sampleSum(metrics, `countersign_cluster_picture_${name}`);
    expect([await gauge('ready'), await gauge('objects'), await gauge('resources'), await gauge('age_seconds'), await gauge('unknown_groups')]).toEqual([0, 12, 3, 0.5, 0]);
    status = { ready: true, objects: 240, resources: 63, ageSeconds: 131.25, unknownGroups: ['metrics.k8s.io'] };
    expect([await gauge('ready'), await gauge('objects'), await gauge('resources'), await gauge('age_seconds'), await gauge('unknown_groups')]).toEqual([1, 240, 63, 131.25, 1]);
    stop.stop();
  });
});

describe('countersign_policy_last_load_success', () => {
  it('is 1 after a good load, 0 after a refused reload, 1 again after a good one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'countersign-policy-')), 'policy.yaml');
    writeFileSync(file, 'rules: []\n');
    const first = await loadConfigFile(file);
    if (!first.ok) throw new Error(first.errors.join('\n'));
    const metrics = createMetrics(false);
    const holder = policyHolder(first.policy, file, log, metrics);
    const value = (): Promise<number> => sampleSum(metrics, 'countersign_policy_last_load_success');
    expect(await value()).toBe(1);
    writeFileSync(file, 'rules: [{name: x, tier: nope}]\n');
    expect((await holder.reload()).ok).toBe(false);
    expect(await value()).toBe(0);
    expect(await sampleSum(metrics, 'countersign_policy_generation')).toBe(1);
    writeFileSync(file, 'rules: [{name: x, tier: deny}]\n');
    expect((await holder.reload()).ok).toBe(true);
    expect(await value()).toBe(1);
    expect(await sampleSum(metrics, 'countersign_policy_generation')).toBe(2);
    expect(await sampleSum(metrics, 'countersign_policy_loads_total', { result: 'error' })).toBe(1);
  });
});
