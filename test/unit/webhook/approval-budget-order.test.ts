// An approval is spent only on a request that goes through: under bulk budgets the agent's delete is counted
// first and the approval (or quota unit) used second, so a budget record that cannot be read or written refuses
// the delete and leaves the human's approval for the retry.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { memoryActivityStore, type ActivityStore } from '../../../src/activity/activity-store.js';
import { DEFAULT_CONFIG_URL } from '../../../src/config/load.js';
import { QUOTA_LABEL, requesterLabelValue } from '../../../src/approvals/types.js';
import { approval, approve, deps as gateDeps } from '../../helpers/approval-flow.js';
import { defaultJudge, heldOutReview, judgeFrom } from '../../helpers/fixtures.js';
import { memoryStore, type MemoryStore } from '../../helpers/memory-store.js';
import { edgeDeps, review, sampleSum } from '../../helpers/metrics.js';

const CODER = 'system:serviceaccount:agents:coder';
const GRANTED = 'countersign_approvals_granted_total';

type Fault = 'none' | 'read-error' | 'write-error' | 'write-conflict';

/** A shared activity store that breaks on demand: reads or writes that throw, or writes that always lose a race. */
function faulty(inner: ActivityStore = memoryActivityStore()): ActivityStore & { fault: Fault; writes: number } {
  const store = {
    fault: 'none' as Fault,
    writes: 0,
    read: (agent: string) => (store.fault === 'read-error' ? Promise.reject(new Error('etcd is down')) : inner.read(agent)),
    write(agent: string, deletes: Parameters<ActivityStore['write']>[1], version: string | undefined) {
      store.writes += 1;
      if (store.fault === 'write-error') return Promise.reject(new Error('etcd timed out'));
      if (store.fault === 'write-conflict') return Promise.resolve(false);
      return inner.write(agent, deletes, version);
    },
  };
  return store;
}

function podDelete(name: string): AdmissionRequest {
  const request = heldOutReview('agent-deletecollection-item-production-pod').request;
  request.uid = `uid-${name}`;
  request.oldObject = { ...request.oldObject, metadata: { ...request.oldObject?.metadata, name, uid: `pod-${name}` } };
  return request;
}

/** The agent's first attempt records its request; a human approves it. */
async function approved(deps: Parameters<typeof review>[0], store: MemoryStore, request: AdmissionRequest): Promise<void> {
  expect((await review(deps, request)).allowed).toBe(false);
  const recorded = [...store.requests.values()][0]!;
  await approve(deps.judge(), store, approval('ok-1', { requestName: recorded.metadata.name, digest: recorded.spec.digest }));
}

function unused(store: MemoryStore): void {
  // Still there, and never used.
  expect(store.approvals.get('ok-1')?.spec.approver).toBe('sre-a');
  expect(store.approvals.get('ok-1')?.status).toBeUndefined();
  expect([...store.requests.values()][0]?.status?.phase ?? 'Pending').toBe('Pending');
  expect(store.events.map((e) => e.reason)).not.toContain('ApprovalUsed');
}

describe('approvals under bulk budgets', () => {
  it('leaves the approval unused when the approved delete cannot be written to the budget, and uses it on the retry', async () => {
    const store = memoryStore();
    const activity = faulty();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store), activity: { store: activity, now: () => new Date() } });
    await approved(deps, store, heldOutReview('agent-delete-production-deployment').request);

    activity.fault = 'write-error';
    const broken = await review(deps, heldOutReview('agent-delete-production-deployment').request);
    expect(broken).toMatchObject({ allowed: false, message: expect.stringContaining('etcd timed out') });
    unused(store);

    activity.fault = 'write-conflict';
    const contended = await review(deps, heldOutReview('agent-delete-production-deployment').request);
    expect(contended).toMatchObject({ allowed: false, message: expect.stringContaining('kept changing under concurrent requests') });
    unused(store);
    expect(await sampleSum(deps.metrics, GRANTED)).toBe(0);
    expect(await sampleSum(deps.metrics, 'countersign_admission_fail_closed_total', { reason: 'budget-unavailable' })).toBe(2);

    activity.fault = 'none';
    const retry = await review(deps, heldOutReview('agent-delete-production-deployment').request);
    expect(retry).toMatchObject({ allowed: true, warnings: [expect.stringContaining('allowed with approval ok-1 by sre-a, now used')] });
    expect(store.approvals.get('ok-1')?.status?.phase).toBe('Used');
    // The human's approval was admitted (Approved), then used once.
    expect(store.events.map((e) => e.reason)).toEqual(['ApprovalRequested', 'Approved', 'ApprovalUsed']);
    expect(await sampleSum(deps.metrics, GRANTED, { agent: CODER })).toBe(1);
    expect(await sampleSum(deps.metrics, 'countersign_budget_deletes_total', { agent: CODER })).toBe(1);
    // Used once: the same action asks again.
    expect((await review(deps, heldOutReview('agent-delete-production-deployment').request)).allowed).toBe(false);
  });

  it('spends no quota unit on a delete whose budget write fails', async () => {
    const store = memoryStore();
    const activity = faulty();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store), activity: { store: activity, now: () => new Date() } });
    expect((await review(deps, podDelete('a'))).allowed).toBe(false);
    const recorded = [...store.requests.values()][0]!;
    const quota = approval('q', { requestName: recorded.metadata.name, digest: recorded.spec.digest, quota: { deletes: 2 } });
    await approve(deps.judge(), store, { ...quota, metadata: { ...quota.metadata, labels: { [QUOTA_LABEL]: requesterLabelValue(CODER) } } });

    for (const fault of ['write-error', 'write-conflict'] as const) {
      activity.fault = fault;
      expect((await review(deps, podDelete(`b-${fault}`))).allowed).toBe(false);
      expect(store.approvals.get('q')?.status?.used ?? 0).toBe(0);
    }
    expect(await sampleSum(deps.metrics, 'countersign_quota_uses_total')).toBe(0);
    expect(await sampleSum(deps.metrics, GRANTED)).toBe(0);

    activity.fault = 'none';
    const outcomes = [];
    for (const name of ['c', 'd', 'e']) outcomes.push((await review(deps, podDelete(name))).allowed);
    // Both units are still there for deletes that go through.
    expect(outcomes).toEqual([true, true, false]);
    expect(store.approvals.get('q')?.status).toMatchObject({ phase: 'Used', used: 2 });
    expect(await sampleSum(deps.metrics, 'countersign_quota_uses_total', { agent: CODER })).toBe(2);
  });

  it('leaves the approval unused when the budget cannot be read, even though the deciding rule does not read it', async () => {
    // A budget only on ConfigMaps: a Deployment delete is decided without the record, but must still be counted.
    const text = readFileSync(DEFAULT_CONFIG_URL, 'utf8');
    const budgetOnConfigMaps = text.replace(
      /(- name: delete-budget\n(?:.*\n)*?\s+match:\n\s+operations: \[DELETE\]\n)/,
      '$1      resources: [configmaps]\n',
    );
    expect(budgetOnConfigMaps).not.toBe(text);
    // The bulk counter reads the record too: keep it off Deployments as well, so no deciding rule reads the record.
    const noBulkOnDeployments = budgetOnConfigMaps.replace(
      /(- name: production-bulk-change\n(?:.*\n)*?\s+resources: )\["\*\/\*"\]/,
      '$1[configmaps]',
    );
    expect(noBulkOnDeployments).not.toBe(budgetOnConfigMaps);
    const store = memoryStore();
    const activity = faulty();
    const deps = edgeDeps(judgeFrom(noBulkOnDeployments), { approvals: gateDeps(store), activity: { store: activity, now: () => new Date() } });
    await approved(deps, store, heldOutReview('agent-delete-production-deployment').request);

    activity.fault = 'read-error';
    const broken = await review(deps, heldOutReview('agent-delete-production-deployment').request);
    expect(broken).toMatchObject({ allowed: false, message: expect.stringContaining("cannot be recorded against the agent's budget: etcd is down") });
    unused(store);
    expect(await sampleSum(deps.metrics, GRANTED)).toBe(0);

    activity.fault = 'none';
    expect((await review(deps, heldOutReview('agent-delete-production-deployment').request)).allowed).toBe(true);
    expect(store.approvals.get('ok-1')?.status?.phase).toBe('Used');
    expect(await sampleSum(deps.metrics, GRANTED, { agent: CODER })).toBe(1);
  });

  it('lets one of two concurrent approved deletes through; the other, refused, stays counted (failing closed)', async () => {
    const store = memoryStore();
    const activity = faulty();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store), activity: { store: activity, now: () => new Date() } });
    await approved(deps, store, heldOutReview('agent-delete-production-deployment').request);
    const both = await Promise.all([1, 2].map(() => review(deps, heldOutReview('agent-delete-production-deployment').request)));
    expect(both.map((r) => r.allowed).sort()).toEqual([false, true]);
    expect(store.approvals.get('ok-1')?.status?.phase).toBe('Used');
    expect(await sampleSum(deps.metrics, GRANTED, { agent: CODER })).toBe(1);
    // Both were recorded before either used the approval: the loser's refused delete is an over-count by one.
    expect(await sampleSum(deps.metrics, 'countersign_budget_deletes_total', { agent: CODER })).toBe(2);
  });

  it('honours a rejection that lands while the delete is being counted: the approvals are read again at use', async () => {
    const store = memoryStore();
    const activity = faulty();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store), activity: { store: activity, now: () => new Date() } });
    await approved(deps, store, heldOutReview('agent-delete-production-deployment').request);
    const { requestName, digest } = store.approvals.get('ok-1')!.spec;
    const write = activity.write.bind(activity);
    activity.write = async (...args) => {
      await approve(deps.judge(), store, approval('no', { requestName, digest, decision: 'Reject', approver: 'sre-b', reason: 'not during the sale' }));
      return write(...args);
    };
    const answer = await review(deps, heldOutReview('agent-delete-production-deployment').request);
    expect(answer).toMatchObject({ allowed: false, message: expect.stringContaining('rejected by sre-b: not during the sale') });
    unused(store);
  });

  it('refuses as approvals-unavailable when using the approval fails after the delete was counted', async () => {
    const store = memoryStore();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store), activity: { store: faulty(), now: () => new Date() } });
    await approved(deps, store, heldOutReview('agent-delete-production-deployment').request);
    store.markUsed = () => Promise.reject(new Error('the apiserver is unavailable'));
    const answer = await review(deps, heldOutReview('agent-delete-production-deployment').request);
    expect(answer).toMatchObject({ allowed: false, message: expect.stringContaining('the apiserver is unavailable') });
    expect(await sampleSum(deps.metrics, 'countersign_admission_fail_closed_total', { reason: 'approvals-unavailable' })).toBe(1);
    expect(await sampleSum(deps.metrics, GRANTED)).toBe(0);
  });
});
