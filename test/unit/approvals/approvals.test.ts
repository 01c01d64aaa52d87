// The approval flow without a network: gate, record, approve, consume once; and the checks on a human's approval.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { admitOwnResource } from '../../../src/approvals/admit-own-resources.js';
import { applyApprovalGate } from '../../../src/approvals/approval-gate.js';
import type { ApprovalObject } from '../../../src/approvals/types.js';
import type { Judge } from '../../../src/core/decide.js';
import { defaultJudge, heldOutReview, namespaceNamed, offline } from '../../helpers/fixtures.js';
import { memoryStore, type MemoryStore } from '../../helpers/memory-store.js';
import { admit, answer, approval, approve, attempt, creating, deps, gated, minutes, NOW } from '../../helpers/approval-flow.js';

describe('the approval gate', () => {
  it('records a pending request on the first attempt and tells the agent the exact command', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const d = await attempt(judge, store, heldOutReview('agent-delete-production-deployment').request);
    const [request] = [...store.requests.values()];
    expect(d.allowed).toBe(false);
    expect(request?.spec).toMatchObject({ environment: 'production', rule: 'production-delete', approvalsRequired: 1, requester: { username: 'system:serviceaccount:agents:coder' } });
    expect(d.status?.message).toContain(`kubectl countersign approve ${request?.metadata.name} --reason`);
    expect(request?.spec.digest).toBe(d.digest);
  });

  it('records nothing for a dry run', async () => {
    const store = memoryStore();
    const d = await attempt(await defaultJudge(), store, heldOutReview('agent-dry-run-delete-production-deployment').request);
    expect(d.allowed).toBe(false);
    expect(store.requests.size).toBe(0);
    expect(d.status?.message).toContain('dry runs have no side effects');
  });

  it('allows exactly the approved action once, with audit annotations naming the approval', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const { review, about } = await gated(judge, store);
    // `kubectl countersign approve`, its Approval admitted by Countersign and stored.
    const ok = await answer(judge, store, 'sre-a', { request: about.requestName });
    expect(ok.spec).toMatchObject({ ...about, decision: 'Approve', approver: 'sre-a' });
    const retry = await attempt(judge, store, review);
    expect(retry).toMatchObject({ allowed: true, auditAnnotations: { approvals: ok.metadata.name, approvers: 'sre-a', decision: 'allowed' } });
    expect(store.approvals.get(ok.metadata.name)?.status?.phase).toBe('Used');
    expect(store.events.map((e) => e.reason)).toEqual(['ApprovalRequested', 'Approved', 'ApprovalUsed']);
    expect((await attempt(judge, store, review)).allowed).toBe(false);
  });

  it('does not let an approval for one object cover another, or the same object recreated or changed', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const { review, about } = await gated(judge, store);
    await approve(judge, store, approval('ok-1', about));
    const recreated = structuredClone(review);
    recreated.oldObject!.metadata!.uid = 'a-new-uid';
    const changed = structuredClone(review);
    changed.oldObject!.metadata!.resourceVersion = '99999';
    const other = structuredClone(review);
    other.name = 'api';
    other.oldObject!.metadata!.name = 'api';
    for (const r of [recreated, changed, other]) expect((await attempt(judge, store, r)).allowed).toBe(false);
    expect(store.approvals.get('ok-1')?.status).toBeUndefined();
  });

  it('lets only one of two concurrent attempts use one approval', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const { review, about } = await gated(judge, store);
    await approve(judge, store, approval('ok-1', about));
    const results = await Promise.all([attempt(judge, store, review), attempt(judge, store, review)]);
    expect(results.map((r) => r.allowed).sort()).toEqual([false, true]);
  });

  it('refuses after a rejection, and ignores expired approvals', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const { review, about } = await gated(judge, store);
    // sre-a's approval runs out a minute before the agent retries.
    await approve(judge, store, approval('old', { ...about, expiresAt: minutes(1) }));
    const later = new Date(Date.parse(minutes(2)));
    const expired = await attempt(judge, store, review, later);
    expect(expired.allowed).toBe(false);
    expect(expired.status?.message).toContain('is pending (0 of 1 approvals)');
    // Another SRE approves, then sre-b rejects: the rejection stands over the live approval.
    store.approvers.add('sre-c');
    await approve(judge, store, approval('yes', { ...about, approver: 'sre-c' }), { now: later });
    await approve(judge, store, approval('no', { ...about, approver: 'sre-b', decision: 'Reject', reason: 'not during the sale' }), { now: later });
    const d = await attempt(judge, store, review, later);
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toContain('rejected by sre-b: not during the sale');
    expect(store.approvals.get('yes')?.status).toBeUndefined();
  });

  it('asks anew once an unapproved request has expired', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const review = heldOutReview('agent-delete-production-deployment').request;
    await attempt(judge, store, review);
    const first = [...store.requests.values()][0]!;
    const later = new Date(Date.parse(first.spec.expiresAt) + 1000);
    const d = await attempt(judge, store, review, later);
    expect(d.allowed).toBe(false);
    expect([...store.requests.values()][0]!.spec.expiresAt).not.toBe(first.spec.expiresAt);
  });
});

describe('admitting a human\'s approval', () => {
  async function pending(): Promise<{ judge: Judge; store: MemoryStore; name: string; digest: string }> {
    const judge = await defaultJudge();
    const store = memoryStore();
    await attempt(judge, store, heldOutReview('agent-delete-production-deployment').request);
    const request = [...store.requests.values()][0]!;
    return { judge, store, name: request.metadata.name, digest: request.spec.digest };
  }

  it('admits a proper approval', async () => {
    const { judge, store, name, digest } = await pending();
    expect(await admit(judge, store, approval('a', { requestName: name, digest }), 'sre-a')).toEqual({ allowed: true, note: `Approve of ${name} by sre-a` });
  });

  it('stores what kubectl countersign approve sends only once Countersign admits it', async () => {
    const { judge, store, name } = await pending();
    await expect(answer(judge, store, 'dev-a', { request: name })).rejects.toThrow('dev-a may not approve actions in environment "production"');
    expect(store.approvals.size).toBe(0);
    const ok = await answer(judge, store, 'sre-b', { request: name, reason: 'checked: web is unused' });
    expect(store.approvals.get(ok.metadata.name)?.spec).toMatchObject({ requestName: name, approver: 'sre-b', reason: 'checked: web is unused' });
    await expect(answer(judge, store, 'sre-b', { request: name })).rejects.toThrow('is already approved; nothing to approve');
    await expect(answer(judge, store, 'sre-b', { request: name, decision: 'Reject' })).rejects.toThrow('you (sre-b) have already decided');
    expect(store.approvals.size).toBe(1);
  });

  it('refuses the owner of the requesting agent (agent-credentials records it), admits a colleague', async () => {
    const { judge, store, name, digest } = await pending();
    store.owners.set('system:serviceaccount:agents:coder', 'sre-a');
    const own = await admit(judge, store, approval('a', { requestName: name, digest }), 'sre-a');
    expect(own.message).toContain('sre-a owns system:serviceaccount:agents:coder (it acts for them): an agent\'s owner may not approve its requests');
    expect(await admit(judge, store, approval('b', { requestName: name, digest, approver: 'sre-b' }), 'sre-b')).toMatchObject({ allowed: true });
  });

  it('keeps the owner recorded when the request was filed, whatever the annotation says later', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    store.owners.set('system:serviceaccount:agents:coder', 'sre-a');
    await attempt(judge, store, heldOutReview('agent-delete-production-deployment').request);
    const request = [...store.requests.values()][0]!;
    expect(request.spec.requesterOwner).toBe('sre-a');
    store.owners.delete('system:serviceaccount:agents:coder');
    const own = await admit(judge, store, approval('a', { requestName: request.metadata.name, digest: request.spec.digest }), 'sre-a');
    expect(own.message).toContain('an agent\'s owner may not approve its requests');
  });

  it('refuses an agent approving (its own or another agent\'s request)', async () => {
    const { judge, store, name, digest } = await pending();
    const own = await admit(judge, store, approval('a', { requestName: name, digest, approver: 'system:serviceaccount:agents:coder' }), 'system:serviceaccount:agents:coder');
    const other = await admit(judge, store, approval('b', { requestName: name, digest, approver: 'system:serviceaccount:agents:ops-bot' }), 'system:serviceaccount:agents:ops-bot');
    for (const v of [own, other]) expect(v).toMatchObject({ allowed: false, message: expect.stringContaining('agents may not') });
  });

  it('refuses an approval in someone else\'s name, with a wrong digest, too long, or without RBAC', async () => {
    const { judge, store, name, digest } = await pending();
    const forged = await admit(judge, store, approval('a', { requestName: name, digest, approver: 'sre-b' }), 'sre-a');
    expect(forged.message).toContain('spec.approver: must be the user creating the approval ("sre-a"), not "sre-b"');
    const wrong = await admit(judge, store, approval('a', { requestName: name, digest: `sha256:${'0'.repeat(64)}` }), 'sre-a');
    expect(wrong.message).toContain('spec.digest:');
    const long = await admit(judge, store, approval('a', { requestName: name, digest, expiresAt: minutes(600) }), 'sre-a');
    expect(long.message).toContain('spec.expiresAt:');
    const dev = await admit(judge, store, approval('a', { requestName: name, digest, approver: 'dev-a' }), 'dev-a');
    expect(dev.message).toContain('dev-a may not approve actions in environment "production"');
  });

  it('requires a signature where the rule does, and refuses one that does not verify', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    await attempt(judge, store, heldOutReview('agent-delete-production-namespace').request);
    const request = [...store.requests.values()][0]!;
    expect(request.spec.signatureRequired).toBe(true);
    const about = { requestName: request.metadata.name, digest: request.spec.digest };
    expect((await admit(judge, store, approval('a', about), 'sre-a')).message).toContain('requires an SSH signature');
    const bad = await admit(judge, store, approval('a', { ...about, signature: { armored: 'not a signature' } }), 'sre-a');
    expect(bad.message).toContain('spec.signature:');
  });

  it('keeps approval requests and statuses Countersign\'s alone', async () => {
    const { judge, store } = await pending();
    const config = judge.policy.config;
    const base = creating(approval('a', { requestName: 'x', digest: 'y' }), 'sre-a');
    const asRequest = { ...base, resource: { ...base.resource, resource: 'approvalrequests' } };
    const asStatus = { ...base, operation: 'UPDATE' as const, subResource: 'status' };
    const d = { ...deps(store), isAgent: (r: AdmissionRequest) => judge.isAgent(r) };
    expect((await admitOwnResource(asRequest, config, d)).allowed).toBe(false);
    expect((await admitOwnResource(asStatus, config, d)).allowed).toBe(false);
    const self = { ...asStatus, userInfo: { username: 'system:serviceaccount:countersign:countersign', groups: [] } };
    expect((await admitOwnResource(self, config, d)).allowed).toBe(true);
  });
});

describe('two-person rules', () => {
  it('needs distinct approvers, and distinct keys where signatures are required', async () => {
    const { evaluateGate } = await import('../../../src/approvals/gate.js');
    const judge = await defaultJudge();
    const store = memoryStore();
    await attempt(judge, store, heldOutReview('agent-delete-production-deployment').request);
    const base = [...store.requests.values()][0]!;
    const request = { ...base, spec: { ...base.spec, approvalsRequired: 2, signatureRequired: true } };
    const about = { requestName: request.metadata.name, digest: request.spec.digest };
    const a = approval('a', { ...about, approver: 'sre-a', signature: { armored: 'k1' } });
    const b = approval('b', { ...about, approver: 'sre-b', signature: { armored: 'k1' } });
    const c = approval('c', { ...about, approver: 'sre-b', signature: { armored: 'k2' } });
    const again = approval('d', { ...about, approver: 'sre-a', signature: { armored: 'k2' } });
    const keyOf = (x: ApprovalObject): string | undefined => x.spec.signature?.armored;
    expect(evaluateGate({ request, approvals: [a], now: NOW, keyOf })).toEqual({ state: 'pending', have: 1, need: 2 });
    expect(evaluateGate({ request, approvals: [a, b], now: NOW, keyOf })).toEqual({ state: 'pending', have: 1, need: 2 });
    expect(evaluateGate({ request, approvals: [a, again], now: NOW, keyOf })).toEqual({ state: 'pending', have: 1, need: 2 });
    expect(evaluateGate({ request, approvals: [a, c], now: NOW, keyOf })).toMatchObject({ state: 'approved' });
    expect(evaluateGate({ request, approvals: [a, c], now: NOW, keyOf: () => undefined })).toEqual({ state: 'pending', have: 0, need: 2 });
  });
});

describe('hardening (security review)', () => {
  it('refuses when the request found under the name records another action', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const { review, about } = await gated(judge, store);
    const stored = store.requests.get(about.requestName)!;
    const forged = `sha256:${'f'.repeat(64)}`;
    store.requests.set(about.requestName, { ...stored, spec: { ...stored.spec, digest: forged } });
    await approve(judge, store, approval('ok', { requestName: about.requestName, digest: forged }));
    const d = await attempt(judge, store, review);
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toContain('records another action');
  });

  it('applies a policy tightened while a request is pending', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const { review, about } = await gated(judge, store);
    await approve(judge, store, approval('ok', about));
    const stricter = { ...judge.decide({ request: review, namespace: namespaceNamed('shop-prod')!, ...offline(review) }) };
    stricter.approval = { ...stricter.approval!, requirement: { approvers: 2, signature: false } };
    const d = await applyApprovalGate(review, stricter, judge.policy.config, deps(store));
    expect(d.allowed).toBe(false);
    expect(d.status?.message).toContain('1 of 2 approvals');
  });

  it('refuses deleting a rejection or a used approval, and changing spec or status', async () => {
    const { judge, store, name, digest } = await (async () => {
      const j = await defaultJudge();
      const s = memoryStore();
      const g = await gated(j, s);
      return { judge: j, store: s, name: g.about.requestName, digest: g.about.digest };
    })();
    const d = { ...deps(store), isAgent: (r: AdmissionRequest) => judge.isAgent(r) };
    const config = judge.policy.config;
    const rejection = approval('no', { requestName: name, digest, decision: 'Reject' });
    const deleting = (old: ApprovalObject): AdmissionRequest => ({ ...creating(old, 'sre-b'), operation: 'DELETE', object: null, oldObject: old as unknown as AdmissionRequest['object'] });
    expect((await admitOwnResource(deleting(rejection), config, d)).allowed).toBe(false);
    const used = { ...approval('u', { requestName: name, digest }), status: { phase: 'Used' as const } };
    expect((await admitOwnResource(deleting(used), config, d)).allowed).toBe(false);
    expect((await admitOwnResource(deleting(approval('live', { requestName: name, digest })), config, d)).allowed).toBe(true);
    const reactivate = { ...creating({ ...used, status: { phase: 'Active' } }, 'sre-a'), operation: 'UPDATE' as const, oldObject: used as unknown as AdmissionRequest['object'] };
    expect((await admitOwnResource(reactivate, config, d)).allowed).toBe(false);
  });

  it('refuses an approval that would outlive its request', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const review = heldOutReview('agent-delete-production-deployment').request;
    // Under a configuration whose requests live 5 minutes, the gate records one that expires at minutes(5).
    const config = judge.policy.config;
    const shortLived = { ...config, approvals: { ...config.approvals, requestTtlSeconds: 300 } };
    await applyApprovalGate(review, judge.decide({ request: review, namespace: namespaceNamed('shop-prod')!, ...offline(review) }), shortLived, deps(store));
    const [request] = [...store.requests.values()];
    if (request === undefined) throw new Error('the gate recorded no approval request');
    expect(request.spec.expiresAt).toBe(minutes(5));
    const verdict = await admit(judge, store, approval('a', { requestName: request.metadata.name, digest: request.spec.digest, expiresAt: minutes(10) }), 'sre-a');
    expect(verdict).toMatchObject({ allowed: false, message: expect.stringContaining('is after the request expires') });
  });
});

describe('pending requests per requester', () => {
  it('are capped, and expired ones are collected when new ones are written', async () => {
    const judge = await defaultJudge();
    const store = memoryStore();
    const config = { ...judge.policy.config, approvals: { ...judge.policy.config.approvals, maxPendingPerRequester: 2 } };
    const deleting = (name: string): AdmissionRequest => {
      const r = structuredClone(heldOutReview('agent-delete-production-deployment').request);
      r.name = name;
      r.oldObject!.metadata!.name = name;
      return r;
    };
    const gate = async (r: AdmissionRequest, now = NOW): Promise<ReturnType<Judge['decide']>> =>
      applyApprovalGate(r, judge.decide({ request: r, namespace: namespaceNamed('shop-prod')!, ...offline(r) }), config, deps(store, now));
    await gate(deleting('a'));
    await gate(deleting('b'));
    const third = await gate(deleting('c'));
    expect(store.requests.size).toBe(2);
    expect(third.status?.message).toContain('already has 2 pending (approvals.maxPendingPerRequester)');
    const later = new Date(NOW.getTime() + 2 * 3600_000);
    await gate(deleting('c'), later);
    expect([...store.requests.values()].map((r) => r.spec.action.name)).toEqual(['c']);
  });
});
