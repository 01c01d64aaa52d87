// The pure core over realistic AdmissionReviews: every branch of the default policy, without a network.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import type { Judge } from '../../../src/core/decide.js';
import { defaultJudge, heldOutReview, judgeFrom, namespaceNamed, offline } from '../../helpers/fixtures.js';

function decideFixture(judge: Judge, name: string, mutate?: (r: AdmissionRequest) => void): ReturnType<Judge['decide']> {
  const { request } = heldOutReview(name);
  mutate?.(request);
  const namespace = request.namespace === undefined ? undefined : namespaceNamed(request.namespace);
  return judge.decide(namespace === undefined ? { request, ...offline(request) } : { request, namespace, ...offline(request) });
}

describe('the default policy', () => {
  it('gates an agent deleting a production namespace, with a digest in the message', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-delete-production-namespace');
    expect(d).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'production-namespace-delete', environment: 'production' });
    expect(d.approval?.requirement).toEqual({ approvers: 2, signature: true });
    expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(d.status?.code).toBe(403);
    expect(d.status?.message).toContain(d.digest);
    expect(d.auditAnnotations).toMatchObject({ decision: 'denied', rule: 'production-namespace-delete', digest: d.digest });
  });

  it('allows humans and controllers before any rule runs', async () => {
    const judge = await defaultJudge();
    for (const name of ['human-delete-production-namespace', 'controller-deletecollection-item-production', 'gc-delete-replicaset-production']) {
      const d = decideFixture(judge, name);
      expect(d).toMatchObject({ allowed: true, rule: 'non-agent', fired: [] });
      expect(d.requester.isAgent).toBe(false);
    }
  });

  it('reads the name of a DeleteCollection item from oldObject', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-deletecollection-item-production-pod');
    expect(d).toMatchObject({ allowed: false, rule: 'production-delete' });
    expect(d.status?.message).toContain('pods shop-prod/web-7d4b9c-x2x4z');
  });

  it('gates a CRD delete as a cluster-scoped delete', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-delete-crd');
    expect(d).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'cluster-scoped-delete', environment: 'production' });
  });

  it('gates scaling production to zero through the scale subresource (Scale omits replicas: 0)', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-scale-production-to-zero');
    expect(d).toMatchObject({ allowed: false, rule: 'production-scale-down' });
    expect(d.status?.message).toContain('from 3 to 0 replicas');
  });

  it('audits a modest production scale-down and gates one below half', async () => {
    const judge = await defaultJudge();
    expect(decideFixture(judge, 'agent-scale-production-3-to-2')).toMatchObject({ allowed: true, tier: 'audit', rule: 'production-change' });
    expect(decideFixture(judge, 'agent-update-production-deployment-4-to-1')).toMatchObject({ allowed: false, rule: 'production-scale-down' });
    expect(decideFixture(judge, 'agent-scale-development-to-zero')).toMatchObject({ allowed: true, tier: 'allow', rule: 'default' });
  });

  it('audits production creates with a warning and an audit annotation', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-create-production-configmap');
    expect(d).toMatchObject({ allowed: true, tier: 'audit', rule: 'production-change' });
    expect(d.warnings).toEqual([expect.stringContaining('create configmaps shop-prod/feature-flags')]);
    expect(d.auditAnnotations.tier).toBe('audit');
  });

  it('denies RBAC escalation and cluster-admin bindings, asks approval for a plain role', async () => {
    const judge = await defaultJudge();
    expect(decideFixture(judge, 'agent-create-escalating-role')).toMatchObject({ allowed: false, tier: 'deny', rule: 'rbac-escalation' });
    expect(decideFixture(judge, 'agent-bind-cluster-admin')).toMatchObject({ allowed: false, tier: 'deny', rule: 'rbac-bind-cluster-admin' });
    // Rules are rights: granting them is a human's decision (rbac-role-change).
    expect(decideFixture(judge, 'agent-create-plain-role')).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'rbac-role-change' });
  });

  it('gives a dry run the same decision plus a warning saying what would happen', async () => {
    const judge = await defaultJudge();
    const dry = decideFixture(judge, 'agent-dry-run-delete-production-deployment');
    const real = decideFixture(judge, 'agent-delete-production-deployment');
    expect(dry).toMatchObject({ allowed: real.allowed, tier: real.tier, rule: real.rule, dryRun: true });
    expect(dry.warnings[0]).toMatch(/^dry run: Countersign would refuse this request until a human approves it/);
  });

  it('recognises agents by group and by service-account glob, and their own namespace is off limits', async () => {
    const judge = await defaultJudge();
    expect(decideFixture(judge, 'group-agent-delete-production-configmap')).toMatchObject({ allowed: false, rule: 'production-delete' });
    expect(decideFixture(judge, 'group-agent-delete-production-configmap').requester.matchedBy).toBe('group countersign:agents');
    expect(decideFixture(judge, 'agent-delete-in-countersign-namespace')).toMatchObject({ allowed: false, tier: 'deny', rule: 'weakens-guard' });
  });

  it('judges a namespace relabel by its stored labels and denies it', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-relabel-production-namespace');
    expect(d).toMatchObject({ allowed: false, tier: 'deny', rule: 'environment-label-change', environment: 'production' });
  });

  it('falls back to name patterns when a namespace has no environment label', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-delete-pattern-production-configmap');
    expect(d).toMatchObject({ environment: 'production', rule: 'production-delete' });
  });

  it('binds the digest to the exact object: another uid or resourceVersion gives another digest', async () => {
    const judge = await defaultJudge();
    const base = decideFixture(judge, 'agent-delete-production-deployment').digest;
    const again = decideFixture(judge, 'agent-delete-production-deployment').digest;
    const recreated = decideFixture(judge, 'agent-delete-production-deployment', (r) => { r.oldObject!.metadata!.uid = 'another'; }).digest;
    const changed = decideFixture(judge, 'agent-delete-production-deployment', (r) => { r.oldObject!.metadata!.resourceVersion = '9'; }).digest;
    expect(again).toBe(base);
    expect(new Set([base, recreated, changed]).size).toBe(3);
  });
});

describe('rule semantics', () => {
  const yaml = `
rules:
  - name: audit-all
    tier: audit
    match: {operations: [DELETE]}
  - name: deny-web
    tier: deny
    match: {operations: [DELETE], resources: [deployments]}
    expression: oldObject.metadata.name == 'web'
  - name: broken
    tier: require-approval
    match: {operations: [DELETE], resources: [deployments]}
    expression: oldObject.spec.nonexistent > 1
    failurePolicy: Ignore
`;

  it('lets the most severe fired tier decide, whatever the order', () => {
    const d = decideFixture(judgeFrom(yaml), 'agent-delete-development-deployment');
    expect(d).toMatchObject({ allowed: false, tier: 'deny', rule: 'deny-web' });
    expect(d.fired.map((f) => f.rule)).toEqual(['audit-all', 'deny-web']);
  });

  it('treats an evaluation error as a match under failurePolicy Fail and as no match under Ignore', () => {
    const failing = judgeFrom(yaml.replace('failurePolicy: Ignore', 'failurePolicy: Fail'));
    const d = decideFixture(failing, 'agent-delete-development-deployment');
    expect(d.fired.find((f) => f.rule === 'broken')?.error).toMatch(/rules\[2\]\.expression: No such key: nonexistent/);
    expect(decideFixture(judgeFrom(yaml), 'agent-delete-development-deployment').fired.map((f) => f.rule)).not.toContain('broken');
  });

  it('matches subresources only when asked: "*" excludes deployments/scale, "*/*" includes it', () => {
    const star = judgeFrom('rules: [{name: r, tier: deny, match: {resources: ["*"]}}]');
    const starStar = judgeFrom('rules: [{name: r, tier: deny, match: {resources: ["*/*"]}}]');
    expect(decideFixture(star, 'agent-scale-development-to-zero').allowed).toBe(true);
    expect(decideFixture(starStar, 'agent-scale-development-to-zero').allowed).toBe(false);
  });

  it('uses messageExpression and exposes request, agent and environment to CEL', () => {
    const judge = judgeFrom(`
rules:
  - name: r
    tier: deny
    messageExpression: "agent.serviceAccount.name + ' may not ' + request.operation + ' in ' + environment"`);
    expect(decideFixture(judge, 'agent-delete-development-deployment').status?.message).toContain('coder may not DELETE in development');
  });
});

describe('warnings', () => {
  it('carry audit notes only on allowed requests, not on refusals', async () => {
    const d = decideFixture(await defaultJudge(), 'agent-scale-production-to-zero');
    expect(d.fired.map((f) => f.rule)).toEqual(['production-scale-down', 'production-pods-stopped', 'production-capacity-removed', 'production-change']);
    expect(d.warnings).toEqual([]);
  });
});

describe('the digest of a change', () => {
  it('binds the new content of an UPDATE, ignoring managedFields timestamps', async () => {
    const judge = await defaultJudge();
    const gated = (mutate: (r: AdmissionRequest) => void): string | undefined =>
      decideFixture(judge, 'agent-update-production-deployment-4-to-1', mutate).digest;
    const base = gated(() => undefined);
    const retried = gated((r) => { (r.object!.metadata as { managedFields: unknown[] }).managedFields = [{ time: '2030-01-01T00:00:00Z' }]; });
    const otherImage = gated((r) => { (r.object!.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = 'evil:latest'; });
    expect(base).toMatch(/^sha256:/);
    expect(retried).toBe(base);
    expect(otherImage).not.toBe(base);
  });
});

describe('the digest of a create', () => {
  it('ignores what the apiserver sets afresh on every attempt (uid, creationTimestamp), so a CREATE can be approved', () => {
    const judge = judgeFrom('rules: [{name: gate, tier: require-approval, match: {operations: [CREATE]}}]');
    const first = decideFixture(judge, 'agent-create-production-configmap').digest;
    const retry = decideFixture(judge, 'agent-create-production-configmap', (r) => {
      r.object!.metadata!.uid = 'another-uid';
      (r.object!.metadata as Record<string, unknown>).creationTimestamp = '2030-01-01T00:00:00Z';
    }).digest;
    const otherData = decideFixture(judge, 'agent-create-production-configmap', (r) => { (r.object as { data: Record<string, string> }).data = { LOG_LEVEL: 'trace' }; }).digest;
    expect(retry).toBe(first);
    expect(otherData).not.toBe(first);
  });
});

describe('converting for CEL only what the rules name', () => {
  // A Proxy counts how often the object's keys are listed: toCel lists them once when it converts the object.
  function watched(request: AdmissionRequest): { reads: () => number } {
    let reads = 0;
    const object = request.object as Record<string, unknown>;
    request.object = new Proxy(object, { ownKeys: (target) => { reads += 1; return Reflect.ownKeys(target); } });
    return { reads: () => reads };
  }

  it('leaves object unconverted when no matching rule names it, and converts it when one does', () => {
    const byEnvironment = judgeFrom('rules: [{name: dev-create, tier: audit, match: {operations: [CREATE]}, expression: "environment == \'development\'"}]');
    let counter = { reads: () => -1 };
    const unread = decideFixture(byEnvironment, 'agent-create-development-pod', (r) => { counter = watched(r); });
    expect(unread).toMatchObject({ allowed: true, tier: 'audit', rule: 'dev-create' });
    expect(counter.reads()).toBe(0);
    const byObject = judgeFrom('rules: [{name: dev-pod, tier: audit, match: {operations: [CREATE]}, expression: "object.kind == \'Pod\'"}]');
    const read = decideFixture(byObject, 'agent-create-development-pod', (r) => { counter = watched(r); });
    expect(read).toMatchObject({ allowed: true, tier: 'audit', rule: 'dev-pod' });
    expect(counter.reads()).toBeGreaterThan(0);
  });
});
