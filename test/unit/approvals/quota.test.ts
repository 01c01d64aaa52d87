// Bulk quotas: one human approval covering up to N deletes by the same agent of the same resource in the same
// namespace, spent by compare-and-swap; and what a quota may not stand in for.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { QUOTA_LABEL, requesterLabelValue, type ApprovalObject } from '../../../src/approvals/types.js';
import { defaultJudge, heldOutReview, offline } from '../../helpers/fixtures.js';
import { admit, approval, approve, attempt, deps, gated } from '../../helpers/approval-flow.js';
import { coveredByQuota } from '../../../src/approvals/quota.js';
import { checkApprovalGate } from '../../../src/approvals/approval-gate.js';
import { memoryStore } from '../../helpers/memory-store.js';

const CODER = 'system:serviceaccount:agents:coder';
const POD_FIXTURE = 'agent-deletecollection-item-production-pod';

/** Another pod of the same production namespace, deleted by `username`. */
function podDelete(name: string, change: { username?: string; namespace?: string; dryRun?: boolean } = {}): AdmissionRequest {
  const request = heldOutReview(POD_FIXTURE).request;
  request.uid = `uid-${name}`;
  request.oldObject = { ...request.oldObject, metadata: { ...request.oldObject?.metadata, name, uid: `pod-${name}` } };
  if (change.username !== undefined) request.userInfo = { ...request.userInfo, username: change.username };
  if (change.namespace !== undefined) {
    request.namespace = change.namespace;
    request.oldObject.metadata = { ...request.oldObject.metadata, namespace: change.namespace };
  }
  if (change.dryRun === true) request.dryRun = true;
  return request;
}

function quota(about: { requestName: string; digest: string }, deletes: number, label: string | null = requesterLabelValue(CODER)): ApprovalObject {
  const object = approval('q', { ...about, quota: { deletes } });
  return label === null ? object : { ...object, metadata: { ...object.metadata, labels: { [QUOTA_LABEL]: label } } };
}

async function withQuota(deletes: number): Promise<{ judge: Awaited<ReturnType<typeof defaultJudge>>; store: ReturnType<typeof memoryStore> }> {
  const judge = await defaultJudge();
  const store = memoryStore();
  const { about } = await gated(judge, store, POD_FIXTURE);
  await approve(judge, store, quota(about, deletes));
  return { judge, store };
}

describe('bulk quotas', () => {
  it('covers up to N deletes of the same resource in the same namespace by the same agent, then asks again', async () => {
    const { judge, store } = await withQuota(3);
    const outcomes = [];
    for (const name of ['b', 'c', 'd', 'e']) outcomes.push(await attempt(judge, store, podDelete(name)));
    expect(outcomes.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(outcomes[2]?.warnings[0]).toContain('(3 of 3 used)');
    expect(outcomes[3]?.status?.message).toMatch(/Approval request cs-[0-9a-f]{64} is pending/);
    expect(store.approvals.get('q')?.status).toMatchObject({ phase: 'Used', used: 3 });
  });

  it('does not cover another agent, another namespace or another resource, and a dry run spends nothing', async () => {
    const { judge, store } = await withQuota(5);
    expect((await attempt(judge, store, podDelete('x', { username: 'system:serviceaccount:agents:ops-bot' }))).allowed).toBe(false);
    expect((await attempt(judge, store, podDelete('y', { namespace: 'billing-prod' }))).allowed).toBe(false);
    expect((await attempt(judge, store, heldOutReview('agent-delete-production-deployment').request)).allowed).toBe(false);
    const dry = await attempt(judge, store, podDelete('z', { dryRun: true }));
    expect(dry).toMatchObject({ allowed: true, warnings: [expect.stringContaining('5 of 5 left; not used by a dry run')] });
    expect(store.approvals.get('q')?.status?.used ?? 0).toBe(0);
  });

  it('is spent once per delete when two replicas race for its last unit, and a lost race with units left retries', async () => {
    const last = await withQuota(1);
    const [first, second] = await Promise.all([attempt(last.judge, last.store, podDelete('r1')), attempt(last.judge, last.store, podDelete('r2'))]);
    expect([first.allowed, second.allowed].filter(Boolean)).toHaveLength(1);
    const two = await withQuota(2);
    const both = await Promise.all([attempt(two.judge, two.store, podDelete('s1')), attempt(two.judge, two.store, podDelete('s2'))]);
    expect(both.map((d) => d.allowed)).toEqual([true, true]);
    expect(two.store.approvals.get('q')?.status).toMatchObject({ phase: 'Used', used: 2 });
  });

  it('covers only deletes gated by the same rule and no bigger than the one approved, and dies with a rejection', async () => {
    const { judge, store } = await withQuota(5);
    const bigger = podDelete('owner-of-many');
    const decision = judge.decide({ request: bigger, ...offline(bigger) });
    // The same pod delete, but with a blast radius beyond the approved one (a pod owning other objects).
    const grown = { ...decision, impact: { total: 40, byResource: { pods: 1, configmaps: 39 }, pods: 1, boundClaims: 0, deletedVolumes: 0, dataBearing: [] } };
    expect(await coveredByQuota(bigger, grown, deps(store), judge.policy.config)).toBeUndefined();
    expect(await coveredByQuota(bigger, { ...decision, rule: 'large-delete' }, deps(store), judge.policy.config)).toBeUndefined();
    expect(await coveredByQuota(bigger, decision, deps(store), judge.policy.config)).toMatchObject({ allowed: true });
    const [request] = [...store.requests.values()];
    await approve(judge, store, approval('no', { requestName: request!.metadata.name, digest: request!.spec.digest, decision: 'Reject', approver: 'sre-b' }));
    expect(await coveredByQuota(podDelete('after-rejection'), decision, deps(store), judge.policy.config)).toBeUndefined();
  });

  it('is only found by checkApprovalGate, and spent by its use: on fresh reads, refused once spent elsewhere', async () => {
    const { judge, store } = await withQuota(1);
    const request = podDelete('checked');
    const decision = judge.decide({ request, ...offline(request) });
    const checked = await checkApprovalGate(request, decision, judge.policy.config, deps(store));
    const again = await checkApprovalGate(podDelete('checked-too'), decision, judge.policy.config, deps(store));
    const dry = await checkApprovalGate(podDelete('dry', { dryRun: true }), { ...decision, dryRun: true }, judge.policy.config, deps(store));
    expect(dry).toMatchObject({ allowed: true, warnings: [expect.stringContaining('1 of 1 left; not used by a dry run')] });
    expect(store.approvals.get('q')?.status?.used ?? 0).toBe(0);
    if (!('use' in checked) || !('use' in again)) throw new Error('the quota was not found');
    expect(await checked.use()).toMatchObject({ allowed: true, warnings: [expect.stringContaining('(1 of 1 used)')] });
    expect(store.approvals.get('q')?.status).toMatchObject({ phase: 'Used', used: 1 });
    // The second was found while a unit was left; at use it is gone, so it is refused (and asks anew).
    expect((await again.use()).allowed).toBe(false);
  });

  it('is refused at admission where it would stand in for more than one unsigned approval, or names the wrong agent', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const signed = await gated(judge, store, 'agent-delete-production-namespace');
    const verdict = await admit(judge, store, quota(signed.about, 10), 'sre-a');
    expect(verdict.message).toMatch(/spec\.quota: rule production-namespace-delete requires 2 approver\(s\) and a signature; a quota cannot stand in for that/);
    const pods = memoryStore();
    const { about } = await gated(judge, pods, POD_FIXTURE);
    expect((await admit(judge, pods, quota(about, 10, null), 'sre-a')).message).toContain(`metadata.labels["${QUOTA_LABEL}"]: must be "${requesterLabelValue(CODER)}"`);
    expect((await admit(judge, pods, quota(about, 10, requesterLabelValue('system:serviceaccount:agents:ops-bot')), 'sre-a')).allowed).toBe(false);
    expect((await admit(judge, pods, quota(about, 0), 'sre-a')).message).toContain('spec.quota.deletes: must be a whole number from 1 to 1000');
    const rejection = { ...quota(about, 5), spec: { ...quota(about, 5).spec, decision: 'Reject' as const } };
    expect((await admit(judge, pods, rejection, 'sre-a')).message).toContain('only an approval can carry a quota');
  });
});
