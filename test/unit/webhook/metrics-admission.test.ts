// The admission metrics, each through the real edge (handleReview) with the held-out AdmissionReviews: the agent
// label and its cap, approvals and quotas granted, the impact of gated actions, fail-closed refusals by reason,
// and bulk budgets.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import type { ApprovalStore } from '../../../src/approvals/store.js';
import { QUOTA_LABEL, requesterLabelValue, type ApprovalObject } from '../../../src/approvals/types.js';
import type { ActivityStore } from '../../../src/activity/activity-store.js';
import { memoryActivityStore } from '../../../src/activity/activity-store.js';
import type { NamespaceDirectory } from '../../../src/cluster/namespace-directory.js';
import type { Judge } from '../../../src/core/decide.js';
import { staticPicture, type ClusterPicture } from '../../../src/picture/cluster-picture.js';
import { AGENT_LABEL_LIMIT } from '../../../src/observability/metrics.js';
import { approval, approve, creating, deps as gateDeps } from '../../helpers/approval-flow.js';
import { defaultJudge, EMPTY_CLUSTER, heldOutNamespaces, heldOutReview, judgeFrom } from '../../helpers/fixtures.js';
import { memoryStore } from '../../helpers/memory-store.js';
import { edgeDeps, review, sampleSum, samples } from '../../helpers/metrics.js';

const CODER = 'system:serviceaccount:agents:coder';
const DECISIONS = 'countersign_admission_decisions_total';
const FAIL_CLOSED = 'countersign_admission_fail_closed_total';

function fixture(name: string): AdmissionRequest {
  return heldOutReview(name).request;
}

/** Another pod of shop-prod deleted by the agent (a DeleteCollection item, as in quota.test.ts). */
function podDelete(name: string): AdmissionRequest {
  const request = fixture('agent-deletecollection-item-production-pod');
  request.uid = `uid-${name}`;
  request.oldObject = { ...request.oldObject, metadata: { ...request.oldObject?.metadata, name, uid: `pod-${name}` } };
  return request;
}

describe('countersign_admission_decisions_total', () => {
  it('labels an agent\'s decisions with its username and everyone else\'s with "none"', async () => {
    const deps = edgeDeps(await defaultJudge());
    expect((await review(deps, fixture('agent-create-development-pod'))).allowed).toBe(true);
    expect((await review(deps, fixture('human-delete-production-deployment'))).allowed).toBe(true);
    expect((await review(deps, fixture('agent-bind-cluster-admin'))).allowed).toBe(false);
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'allowed', tier: 'allow', operation: 'CREATE', resource: 'pods', environment: 'development', rule: 'default', dry_run: 'false', agent: CODER })).toBe(1);
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'allowed', rule: 'non-agent', environment: 'none', agent: 'none' })).toBe(1);
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'denied', tier: 'deny', rule: 'rbac-bind-cluster-admin', agent: CODER })).toBe(1);
    const text = await deps.metrics.registry.metrics();
    // No object names (shop-prod, web, the ClusterRoleBinding's name) and no human's name reach a label.
    for (const sample of await samples(deps.metrics)) {
      for (const value of Object.values(sample.labels)) expect(['shop-prod', 'shop-dev', 'web']).not.toContain(value);
    }
    expect(text).not.toMatch(/agent="(?!system:serviceaccount:agents:coder"|none")/);
  });

  it(`counts at most ${AGENT_LABEL_LIMIT} agent identities by name, the rest as "other"`, async () => {
    const deps = edgeDeps(await defaultJudge());
    for (let i = 0; i < AGENT_LABEL_LIMIT + 10; i++) {
      const request = fixture('agent-create-development-pod');
      request.userInfo = { ...request.userInfo, username: `system:serviceaccount:agents:bot-${i}` };
      await review(deps, request);
    }
    // Seen again: an agent counted by name stays counted by name.
    await review(deps, fixture('agent-create-development-pod'));
    const agents = new Set((await samples(deps.metrics)).filter((s) => s.name === DECISIONS).map((s) => s.labels.agent));
    expect(agents.size).toBe(AGENT_LABEL_LIMIT + 1);
    expect(await sampleSum(deps.metrics, DECISIONS, { agent: 'other' })).toBe(11);
    expect(await sampleSum(deps.metrics, DECISIONS, { agent: 'system:serviceaccount:agents:bot-0' })).toBe(1);
  });
});

describe('approvals through the edge', () => {
  it('counts an approved action as allowed with tier require-approval, and the approval as granted (dry runs not)', async () => {
    const store = memoryStore();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store) });
    const first = await review(deps, fixture('agent-delete-production-deployment'));
    expect(first).toMatchObject({ allowed: false, code: 403 });
    const request = [...store.requests.values()][0]!;
    const judge = deps.judge();
    await approve(judge, store, approval('ok-1', { requestName: request.metadata.name, digest: request.spec.digest }));

    const dry = await review(deps, fixture('agent-dry-run-delete-production-deployment'));
    expect(dry.allowed).toBe(true);
    expect(await sampleSum(deps.metrics, 'countersign_approvals_granted_total')).toBe(0);

    const retry = await review(deps, fixture('agent-delete-production-deployment'));
    expect(retry.allowed).toBe(true);
    expect(retry.warnings?.[0]).toContain('allowed with approval ok-1 by sre-a, now used');
    const labels = { tier: 'require-approval', rule: 'production-delete', environment: 'production', agent: CODER };
    expect(await sampleSum(deps.metrics, DECISIONS, { ...labels, decision: 'denied', dry_run: 'false' })).toBe(1);
    expect(await sampleSum(deps.metrics, DECISIONS, { ...labels, decision: 'allowed', dry_run: 'true' })).toBe(1);
    expect(await sampleSum(deps.metrics, DECISIONS, { ...labels, decision: 'allowed', dry_run: 'false' })).toBe(1);
    expect(await sampleSum(deps.metrics, 'countersign_approvals_granted_total', { agent: CODER })).toBe(1);
    expect(await sampleSum(deps.metrics, 'countersign_quota_uses_total')).toBe(0);
    // The approved delete is recorded against the agent's budget, like any delete it carried out.
    expect(await sampleSum(deps.metrics, 'countersign_budget_deletes_total', { agent: CODER })).toBe(1);
  });

  it('counts deletes let through by a bulk quota as quota uses and approvals granted', async () => {
    const store = memoryStore();
    const deps = edgeDeps(await defaultJudge(), { approvals: gateDeps(store) });
    expect((await review(deps, podDelete('a'))).allowed).toBe(false);
    const request = [...store.requests.values()][0]!;
    const quota = approval('q', { requestName: request.metadata.name, digest: request.spec.digest, quota: { deletes: 2 } });
    await approve(deps.judge(), store, { ...quota, metadata: { ...quota.metadata, labels: { [QUOTA_LABEL]: requesterLabelValue(CODER) } } });
    const outcomes = [];
    for (const name of ['b', 'c', 'd']) outcomes.push((await review(deps, podDelete(name))).allowed);
    expect(outcomes).toEqual([true, true, false]);
    expect(await sampleSum(deps.metrics, 'countersign_quota_uses_total', { agent: CODER })).toBe(2);
    expect(await sampleSum(deps.metrics, 'countersign_approvals_granted_total', { agent: CODER })).toBe(2);
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'allowed', tier: 'require-approval', resource: 'pods', agent: CODER })).toBe(2);
  });
});

describe('countersign_gated_impact_objects', () => {
  /** shop-prod holding 7 ConfigMaps besides itself: deleting it removes 8 objects. */
  function shopProd(): ClusterPicture {
    const namespace = heldOutNamespaces().find((ns) => ns.metadata?.name === 'shop-prod');
    const configMaps = Array.from({ length: 7 }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace: 'shop-prod', uid: `cm-${i}` } }));
    return staticPicture([namespace, ...configMaps]);
  }

  it('observes how many objects a gated action would remove, by tier; not dry runs, not allowed actions', async () => {
    const deps = edgeDeps(await defaultJudge(), { picture: shopProd() });
    await review(deps, fixture('agent-delete-production-namespace'));
    await review(deps, fixture('agent-delete-production-deployment'));
    await review(deps, fixture('agent-dry-run-delete-production-deployment'));
    await review(deps, fixture('agent-delete-development-deployment'));
    const metrics = deps.metrics;
    expect(await sampleSum(metrics, 'countersign_gated_impact_objects_count', { tier: 'require-approval' })).toBe(2);
    expect(await sampleSum(metrics, 'countersign_gated_impact_objects_sum', { tier: 'require-approval' })).toBe(8 + 1);
    expect(await sampleSum(metrics, 'countersign_gated_impact_objects_bucket', { tier: 'require-approval', le: '5' })).toBe(1);
    expect(await sampleSum(metrics, 'countersign_gated_impact_objects_bucket', { tier: 'require-approval', le: '10' })).toBe(2);
    expect(await sampleSum(metrics, 'countersign_gated_impact_objects_count', { tier: 'deny' })).toBe(0);
  });
});

describe('countersign_admission_fail_closed_total', () => {
  async function refusal(deps: ReturnType<typeof edgeDeps>, request: AdmissionRequest): Promise<void> {
    const answer = await review(deps, request);
    expect(answer).toMatchObject({ allowed: false, code: 500 });
    expect(answer.message).toMatch(/^Countersign could not judge this request, so it is refused: /);
  }

  async function failClosed(deps: ReturnType<typeof edgeDeps>): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const s of await samples(deps.metrics)) if (s.name === FAIL_CLOSED) out[`${s.labels.reason} ${s.labels.agent}`] = s.value;
    return out;
  }

  it('namespace-unavailable: the namespace lookup failed or has not synced', async () => {
    const broken: NamespaceDirectory = { isReady: () => true, get: () => Promise.reject(new Error('apiserver unreachable')), close: () => Promise.resolve() };
    const deps = edgeDeps(await defaultJudge(), { namespaces: broken });
    await refusal(deps, fixture('agent-delete-development-deployment'));
    deps.namespaces = { ...broken, isReady: () => false };
    await refusal(deps, fixture('agent-create-development-pod'));
    // A human is never refused for it, and never counted.
    expect((await review(deps, fixture('human-delete-production-deployment'))).allowed).toBe(true);
    expect(await failClosed(deps)).toEqual({ [`namespace-unavailable ${CODER}`]: 2 });
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'denied', tier: 'deny', rule: 'namespace-unavailable', environment: 'other', agent: CODER })).toBe(2);
    // An unavailable dependency is fail-closed, not an error of Countersign's own: not counted twice.
    expect(await sampleSum(deps.metrics, 'countersign_admission_review_errors_total', { reason: 'internal' })).toBe(0);
  });

  it('impact-unavailable: the cluster picture is not ready for a delete whose impact is needed', async () => {
    const unready: ClusterPicture = {
      view: EMPTY_CLUSTER.view, close: () => Promise.resolve(),
      status: () => ({ ready: false, reason: 'cluster picture not ready: 1 resource not yet listed (pods)', objects: 0, resources: 1, ageSeconds: 0 }),
    };
    const deps = edgeDeps(await defaultJudge(), { picture: unready });
    await refusal(deps, fixture('agent-delete-production-namespace'));
    expect(await failClosed(deps)).toEqual({ [`impact-unavailable ${CODER}`]: 1 });
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'denied', rule: 'impact-unavailable', agent: CODER })).toBe(1);
  });

  it('budget-unavailable: the activity record cannot be read, written, or keeps changing', async () => {
    const judge = await defaultJudge();
    const unreadable: ActivityStore = { read: () => Promise.reject(new Error('etcd timeout')), write: () => Promise.resolve(true) };
    const deps = edgeDeps(judge, { activity: { store: unreadable, now: () => new Date() } });
    // The core refuses (delete-budget reads agent.deletes): rule budget-unavailable.
    await refusal(deps, fixture('agent-delete-development-deployment'));
    const unwritable: ActivityStore = { read: (agent) => memoryActivityStore().read(agent), write: () => Promise.reject(new Error('forbidden')) };
    deps.activity = { store: unwritable, now: () => new Date() };
    await refusal(deps, fixture('agent-delete-development-deployment'));
    const contended: ActivityStore = { read: (agent) => memoryActivityStore().read(agent), write: () => Promise.resolve(false) };
    deps.activity = { store: contended, now: () => new Date() };
    await refusal(deps, fixture('agent-delete-development-deployment'));
    expect(await failClosed(deps)).toEqual({ [`budget-unavailable ${CODER}`]: 3 });
    // The core's refusal (unreadable) and the edge's (unwritable, contended) carry the same reason as their rule.
    expect(await sampleSum(deps.metrics, DECISIONS, { rule: 'budget-unavailable' })).toBe(3);
    // Each lost compare-and-swap is a conflict: six attempts, all lost.
    expect(await sampleSum(deps.metrics, 'countersign_budget_conflicts_total')).toBe(6);
    expect(await sampleSum(deps.metrics, 'countersign_budget_deletes_total')).toBe(0);
  });

  it('approvals-unavailable: the approval store fails, for a gated action or a change to an approval resource', async () => {
    const store = memoryStore();
    const failing: ApprovalStore = { ...store, getRequest: () => Promise.reject(new Error('approvalrequests: connection refused')), listQuotasFor: () => Promise.reject(new Error('approvals: connection refused')) };
    const deps = edgeDeps(await defaultJudge(), { approvals: { ...gateDeps(store), store: failing } });
    await refusal(deps, fixture('agent-delete-production-deployment'));
    const human: ApprovalObject = approval('a', { requestName: 'cs-0', digest: 'sha256:0' });
    await refusal(deps, creating(human, 'sre-a'));
    expect(await failClosed(deps)).toEqual({ [`approvals-unavailable ${CODER}`]: 1, 'approvals-unavailable none': 1 });
  });

  it('rule-timeout: a rule over its evaluation timeout', async () => {
    const calls = Array.from({ length: 80 }, () => "oldObject.metadata.annotations.big.matches('^(a|aa)+$')").join(' && ');
    const deps = edgeDeps(judgeFrom(`evaluation: {timeoutMilliseconds: 20}\nrules: [{name: regex, tier: audit, expression: "${calls}"}]`));
    const request = fixture('agent-delete-development-deployment');
    request.oldObject!.metadata!.annotations = { big: 'a'.repeat(1_000_000) };
    await refusal(deps, request);
    expect(await failClosed(deps)).toEqual({ [`rule-timeout ${CODER}`]: 1 });
    expect(await sampleSum(deps.metrics, DECISIONS, { decision: 'denied', rule: 'regex', agent: CODER })).toBe(1);
  });

  it('internal-error: Countersign itself failed; a human is allowed and only counted as a review error', async () => {
    const judge = await defaultJudge();
    const exploding: Judge = { ...judge, isAgent: (r) => judge.isAgent(r), decide: () => { throw new Error('boom'); } };
    const deps = edgeDeps(exploding);
    await refusal(deps, fixture('agent-create-development-pod'));
    expect((await review(deps, fixture('human-delete-production-namespace'))).allowed).toBe(true);
    expect(await failClosed(deps)).toEqual({ [`internal-error ${CODER}`]: 1 });
    expect(await sampleSum(deps.metrics, 'countersign_admission_review_errors_total', { reason: 'internal' })).toBe(2);
  });
});

describe('bulk budgets', () => {
  it('counts the deletes recorded per agent and the writes lost to another replica', async () => {
    const inner = memoryActivityStore();
    let flip = false;
    // Every other write loses, as if another replica had written the record in between.
    const store: ActivityStore = {
      read: (agent) => inner.read(agent),
      write: (agent, deletes, version) => { flip = !flip; return flip ? Promise.resolve(false) : inner.write(agent, deletes, version); },
    };
    const deps = edgeDeps(await defaultJudge(), { activity: { store, now: () => new Date() } });
    for (const uid of ['a', 'b', 'c']) {
      const request = fixture('agent-delete-development-deployment');
      request.uid = uid;
      expect((await review(deps, request)).allowed).toBe(true);
    }
    // Dry runs and refusals are not recorded.
    await review(deps, fixture('agent-dry-run-delete-production-deployment'));
    await review(deps, fixture('agent-delete-production-deployment'));
    expect(await sampleSum(deps.metrics, 'countersign_budget_deletes_total', { agent: CODER })).toBe(3);
    // One write (a lease of 4, after losing one race); the next two deletes spent the lease locally.
    expect(await sampleSum(deps.metrics, 'countersign_budget_conflicts_total')).toBe(1);
    expect((await inner.read(CODER)).leases.filter((l) => l.counter === 'deletes').map((l) => l.units)).toEqual([4]);
  });
});
