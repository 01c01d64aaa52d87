// Quotas beyond deletes: once the bulk-change threshold holds an agent, one human approval with a quota covers N
// more updates of the same resource in the same namespace, and nothing a rule other than a count would gate.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { applyApprovalGate } from '../../../src/approvals/approval-gate.js';
import { onlyCounts } from '../../../src/approvals/quota.js';
import { QUOTA_LABEL, requesterLabelValue, type ApprovalObject } from '../../../src/approvals/types.js';
import { changesCounter, type AgentActivity } from '../../../src/core/activity.js';
import type { Decision, Judge } from '../../../src/core/decide.js';
import { admit, approval, approve, deps, gate, NOW } from '../../helpers/approval-flow.js';
import { defaultJudge, EMPTY_PICTURE, heldOutReview, judgeFrom, namespaceNamed, noRights } from '../../helpers/fixtures.js';
import { memoryStore, type MemoryStore } from '../../helpers/memory-store.js';

const CODER = 'system:serviceaccount:agents:coder';

/** The default policy's two bulk rules and its audit of production changes (not the whole file, which moves). */
const POLICY = `
environments:
  namespacePatterns: [{environment: production, names: ["*-prod"]}]
params: {bulk: {maxChangesPer5m: 10}, capacity: {maxRemovedPerHour: 0.5}}
rules:
  - name: production-bulk-change
    tier: require-approval
    match: {operations: [CREATE, UPDATE, DELETE], environments: [production], resources: ["*/*"]}
    expression: agent.changes('5m') > params.bulk.maxChangesPer5m
  - name: production-capacity-removed
    tier: require-approval
    match: {operations: [UPDATE], environments: [production], resources: ["*/*"]}
    expression: agent.capacityRemoved('1h') > params.capacity.maxRemovedPerHour
  - name: production-change
    tier: audit
    match: {operations: [CREATE, UPDATE], environments: [production], resources: ["*/*"]}
`;

const bulkJudge = (): Promise<Judge> => Promise.resolve(judgeFrom(POLICY));

/** The agent has already changed 10 production objects in the last minute: the bulk threshold holds it. */
function busy(extra: Partial<AgentActivity> = {}): AgentActivity {
  const at = NOW.getTime() - 60_000;
  return { now: NOW.getTime(), buckets: [{ at, counter: changesCounter('production'), count: 10 }], peaks: [], retentionMs: 3_600_000, ...extra };
}

/** `kubectl label deployment NAME team=checkout` in shop-prod (an UPDATE that changes no replicas). */
function relabel(name: string, namespace = 'shop-prod'): AdmissionRequest {
  const request = structuredClone(heldOutReview('agent-update-production-deployment-4-to-1').request);
  request.uid = `uid-${name}`;
  request.name = name;
  request.namespace = namespace;
  const old = { ...request.oldObject, metadata: { ...request.oldObject?.metadata, name, namespace, uid: `dep-${name}` } };
  request.oldObject = old;
  request.object = { ...old, metadata: { ...old.metadata, labels: { app: 'web', team: 'checkout' } } };
  return request;
}

/** The same Deployment scaled from 4 to `after` through its spec. */
function scaleDown(name: string, after: number): AdmissionRequest {
  const request = relabel(name);
  const spec = request.oldObject?.spec as Record<string, unknown>;
  request.oldObject = { ...request.oldObject, spec: { ...spec, replicas: 4 } };
  request.object = { ...request.oldObject, spec: { ...spec, replicas: after } };
  return request;
}

function decide(judge: Judge, request: AdmissionRequest, activity = busy()): Decision {
  const namespace = namespaceNamed(request.namespace ?? '');
  return judge.decide({ request, picture: EMPTY_PICTURE, activity, identities: noRights(request), ...(namespace === undefined ? {} : { namespace }) });
}

async function attempt(judge: Judge, store: MemoryStore, request: AdmissionRequest, activity = busy()): Promise<Decision> {
  return gate(request, decide(judge, request, activity), judge.policy.config, deps(store));
}

function quota(about: { requestName: string; digest: string }, count: number): ApprovalObject {
  const object = approval('q', { ...about, quota: { deletes: count } });
  return { ...object, metadata: { ...object.metadata, labels: { [QUOTA_LABEL]: requesterLabelValue(CODER) } } };
}

async function withQuota(count: number): Promise<{ judge: Judge; store: MemoryStore }> {
  const judge = await bulkJudge();
  const store = memoryStore();
  const first = await attempt(judge, store, relabel('web'));
  expect(first).toMatchObject({ allowed: false, rule: 'production-bulk-change' });
  const [request] = [...store.requests.values()];
  if (request === undefined) throw new Error('no approval request was recorded');
  await approve(judge, store, quota({ requestName: request.metadata.name, digest: request.spec.digest }, count));
  return { judge, store };
}

describe('quotas for bulk changes', () => {
  it('cover N more updates of the same resource in the same namespace by the same agent, then ask again', async () => {
    const { judge, store } = await withQuota(3);
    const outcomes = [];
    for (const name of ['api', 'cart', 'search', 'pay']) outcomes.push(await attempt(judge, store, relabel(name)));
    expect(outcomes.map((d) => d.allowed)).toEqual([true, true, true, false]);
    expect(outcomes[2]?.warnings[0]).toContain('(3 of 3 used)');
    expect(outcomes[3]).toMatchObject({ rule: 'production-bulk-change' });
  });

  it('do not cover another namespace, the scale subresource, or a step that removes too much capacity', async () => {
    const { judge, store } = await withQuota(10);
    expect((await attempt(judge, store, relabel('api', 'payments-prod'))).allowed).toBe(false);
    const viaScale = relabel('api');
    viaScale.subResource = 'scale';
    expect((await attempt(judge, store, viaScale)).allowed).toBe(false);
    // 4 -> 2 is within the capacity limit: only the count gates it, and a quota is a count a human granted.
    const half = decide(judge, scaleDown('cart', 2));
    expect(half.fired.filter((f) => f.tier === 'require-approval').map((f) => f.rule)).toEqual(['production-bulk-change']);
    expect((await applyApprovalGate(scaleDown('cart', 2), half, judge.policy.config, deps(store))).allowed).toBe(true);
    // 2 -> 1 after 4 -> 2 removes 75%: production-capacity-removed gates it as well, which a quota never waives.
    const peak = busy({ peaks: [{ workload: 'apps/deployments/shop-prod/cart', samples: [{ at: NOW.getTime() - 60_000, replicas: 4 }] }] });
    const further = scaleDown('cart', 1);
    further.oldObject = { ...further.oldObject, spec: { ...(further.oldObject?.spec as object), replicas: 2 } };
    const decision = decide(judge, further, peak);
    expect(decision.fired.map((f) => f.rule)).toEqual(expect.arrayContaining(['production-bulk-change', 'production-capacity-removed']));
    expect((await applyApprovalGate(further, decision, judge.policy.config, deps(store))).allowed).toBe(false);
    expect(store.approvals.get('q')?.status?.used).toBe(1);
    expect(await attempt(judge, store, relabel('search'))).toMatchObject({ allowed: true });
  });

  it('stand in only for rules that count, told apart by what their expression reads', async () => {
    const judge = await bulkJudge();
    const counting = judge.policy.config.rules.filter((r) => onlyCounts(r.expression)).map((r) => r.name);
    expect(counting).toEqual(['production-bulk-change']);
    // The default policy's rules that count (whatever else it holds as it is rewritten).
    const shipped = (await defaultJudge()).policy.config.rules.filter((r) => onlyCounts(r.expression)).map((r) => r.name);
    expect(shipped).toEqual(expect.arrayContaining(['delete-budget', 'production-bulk-change']));
    expect(shipped).not.toContain('production-capacity-removed');
    expect(onlyCounts("agent.changes('5m') > 10 && object.spec.replicas > 0")).toBe(false);
    expect(onlyCounts("agent.capacityRemoved('1h') > params.capacity.maxRemovedPerHour")).toBe(false);
    expect(onlyCounts("agent.deletes('60s') > params.budgets.deletesPerMinute || agent.changes(\"5m\") >= 40")).toBe(true);
  });

  it('are refused at admission for a request that is not a write', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const exec: AdmissionRequest = {
      ...structuredClone(heldOutReview('agent-update-production-deployment-4-to-1').request),
      uid: 'uid-exec', operation: 'CONNECT', name: 'web-0', kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
      resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec',
      object: { kind: 'PodExecOptions', apiVersion: 'v1', command: ['sh'], container: 'web', stdin: true, tty: true }, oldObject: null,
    };
    await applyApprovalGate(exec, decide(judge, exec), judge.policy.config, deps(store));
    const [request] = [...store.requests.values()];
    if (request === undefined) throw new Error('no approval request was recorded for the exec');
    const verdict = await admit(judge, store, quota({ requestName: request.metadata.name, digest: request.spec.digest }, 5), 'sre-a');
    expect(verdict.message).toContain('quotas cover creates, updates and deletes only');
  });
});
