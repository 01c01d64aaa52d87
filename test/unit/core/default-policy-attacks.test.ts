// Ways an agent could try to get around the default policy, each shaped like what the apiserver sends.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest, KubeObject } from '../../../src/kube/types.js';
import type { Judge } from '../../../src/core/decide.js';
import { defaultJudge, heldOutReview, namespaceNamed, offline } from '../../helpers/fixtures.js';

const AGENT = heldOutReview('agent-delete-production-deployment').request.userInfo;

function request(overrides: Partial<AdmissionRequest>): AdmissionRequest {
  return {
    uid: '00000000-0000-4000-8000-000000000001',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    operation: 'CREATE',
    userInfo: AGENT,
    object: null,
    oldObject: null,
    ...overrides,
  };
}

function decide(judge: Judge, r: AdmissionRequest): ReturnType<Judge['decide']> {
  const namespace = r.namespace === undefined ? undefined : namespaceNamed(r.namespace);
  return judge.decide(namespace === undefined ? { request: r, ...offline(r) } : { request: r, namespace, ...offline(r) });
}

describe('identity escalation', () => {
  it('denies minting a token for another ServiceAccount, allows one for the agent itself', async () => {
    const judge = await defaultJudge();
    const token = (namespace: string, name: string): AdmissionRequest => request({
      kind: { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' },
      resource: { group: '', version: 'v1', resource: 'serviceaccounts' }, subResource: 'token', namespace, name,
      object: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [] } },
    });
    expect(decide(judge, token('kube-system', 'namespace-controller'))).toMatchObject({ allowed: false, tier: 'deny', rule: 'token-for-another-identity' });
    expect(decide(judge, token('agents', 'coder')).allowed).toBe(true);
  });

  it('gates any binding and denies ClusterRoles with an aggregationRule or wildcard create', async () => {
    const judge = await defaultJudge();
    const binding = request({
      kind: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'RoleBinding' },
      resource: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'rolebindings' }, namespace: 'shop-dev', name: 'b',
      object: { roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' }, subjects: [] },
    });
    expect(decide(judge, binding)).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'rbac-binding' });
    const role = (object: KubeObject): AdmissionRequest => request({
      kind: { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole' },
      resource: { group: 'rbac.authorization.k8s.io', version: 'v1', resource: 'clusterroles' }, name: 'r', object,
    });
    expect(decide(judge, role({ aggregationRule: { clusterRoleSelectors: [{ matchLabels: { x: 'y' } }] }, rules: [] })).rule).toBe('rbac-escalation');
    expect(decide(judge, role({ rules: [{ apiGroups: [''], resources: ['*'], verbs: ['create'] }] })).rule).toBe('rbac-escalation');
    expect(decide(judge, role({ rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }))).toMatchObject({ tier: 'require-approval', rule: 'rbac-role-change' });
    // Aggregating into edit would hand its rules to everyone bound to edit.
    const aggregated = role({ metadata: { name: 'r', labels: { 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' } }, rules: [] });
    expect(decide(judge, aggregated)).toMatchObject({ tier: 'deny', rule: 'rbac-aggregation-label' });
  });
});

describe('production by other means', () => {
  it('denies relabelling a production namespace through namespaces/status', async () => {
    const relabel = heldOutReview('agent-relabel-production-namespace').request;
    const d = decide(await defaultJudge(), { ...relabel, subResource: 'status' });
    expect(d).toMatchObject({ allowed: false, tier: 'deny', rule: 'environment-label-change' });
  });

  it('gates pointing a production object at another owner (the garbage collector would delete it)', async () => {
    const { request: r } = heldOutReview('agent-update-development-configmap');
    const old = { ...r.oldObject, metadata: { ...r.oldObject!.metadata, namespace: 'shop-prod' } };
    const updated = { ...old, metadata: { ...old.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: 'x' }] } };
    const d = decide(await defaultJudge(), { ...r, namespace: 'shop-prod', oldObject: old, object: updated });
    // The owner does not exist: the more telling rule (it counts what the collector would take) decides.
    expect(d).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'dangling-owner' });
    expect(d.fired.map((f) => f.rule)).toContain('production-owner-change');
    expect(decide(await defaultJudge(), { ...r, namespace: 'shop-prod', oldObject: old, object: old })).toMatchObject({ allowed: true, tier: 'audit' });
  });

  it('denies an agent writing the owner recorded on a ServiceAccount, whether creating or changing it', async () => {
    const judge = await defaultJudge();
    const sa = (owner?: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coder', namespace: 'agents', ...(owner === undefined ? {} : { annotations: { 'countersign.dev/owner': owner } }) } });
    const resource = { group: '', version: 'v1', resource: 'serviceaccounts' };
    const kind = { group: '', version: 'v1', kind: 'ServiceAccount' };
    const update = request({ operation: 'UPDATE', resource, kind, namespace: 'shop-dev', name: 'coder', oldObject: sa('sre-a'), object: sa() });
    expect(decide(judge, update)).toMatchObject({ allowed: false, tier: 'deny', rule: 'agent-owner-annotation' });
    expect(decide(judge, request({ operation: 'CREATE', resource, kind, namespace: 'shop-dev', name: 'x', object: sa('sre-b') }))).toMatchObject({ allowed: false, rule: 'agent-owner-annotation' });
    expect(decide(judge, { ...update, object: sa('sre-a') }).rule).not.toBe('agent-owner-annotation');
  });

  it('gates a delete by another name anywhere: ownerReferences to owners that do not exist', async () => {
    const { request: r } = heldOutReview('agent-update-development-configmap');
    const old = r.oldObject!;
    const dangling = { ...old, metadata: { ...old.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: 'no-such-uid' }] } };
    const d = decide(await defaultJudge(), { ...r, object: dangling });
    expect(d).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'dangling-owner', environment: 'development' });
    expect(d.status?.message).toContain('name owners that do not exist: the garbage collector would delete 1 object (1 configmaps)');
    expect(d.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('gates evicting a production pod, autoscaler changes, exec, and scaling any */scale', async () => {
    const judge = await defaultJudge();
    const eviction = request({ resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'eviction', namespace: 'shop-prod', name: 'web-1', object: { apiVersion: 'policy/v1', kind: 'Eviction' } });
    expect(decide(judge, eviction).rule).toBe('production-eviction');
    const hpa = request({ resource: { group: 'autoscaling', version: 'v2', resource: 'horizontalpodautoscalers' }, namespace: 'shop-prod', name: 'web', object: { spec: { maxReplicas: 1 } } });
    expect(decide(judge, hpa).rule).toBe('production-autoscaler-change');
    const exec = request({ operation: 'CONNECT', resource: { group: '', version: 'v1', resource: 'pods' }, subResource: 'exec', namespace: 'shop-prod', name: 'web-1', object: { kind: 'PodExecOptions', command: ['sh'] } });
    expect(decide(judge, exec).rule).toBe('production-runs-code');
    const scale = heldOutReview('agent-scale-production-to-zero').request;
    const rcScale = { ...scale, resource: { group: '', version: 'v1', resource: 'replicationcontrollers' } };
    expect(decide(judge, rcScale).rule).toBe('production-scale-down');
  });
});

describe('identities out of sight', () => {
  it('denies any change in kube-system, token Secrets, and changes to Countersign\'s CRDs', async () => {
    const judge = await defaultJudge();
    const pod = request({ namespace: 'kube-system', name: 'borrow', object: { spec: { serviceAccountName: 'namespace-controller', containers: [] } } });
    expect(decide(judge, pod)).toMatchObject({ allowed: false, tier: 'deny', rule: 'system-namespaces' });
    const secret = request({ resource: { group: '', version: 'v1', resource: 'secrets' }, namespace: 'shop-dev', name: 't', object: { type: 'kubernetes.io/service-account-token', metadata: { annotations: { 'kubernetes.io/service-account.name': 'default' } } } });
    expect(decide(judge, secret)).toMatchObject({ allowed: false, rule: 'service-account-token-secret' });
    const crd = request({ operation: 'UPDATE', resource: { group: 'apiextensions.k8s.io', version: 'v1', resource: 'customresourcedefinitions' }, name: 'approvals.countersign.dev', object: {}, oldObject: {} });
    expect(decide(judge, crd)).toMatchObject({ allowed: false, tier: 'deny', rule: 'weakens-guard' });
  });
});

describe('harm without deleting', () => {
  const secret = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'shop-prod' }, data });
  const update = (resource: string, oldObject: KubeObject, object: KubeObject): AdmissionRequest => request({
    operation: 'UPDATE', kind: { group: '', version: 'v1', kind: String(object.kind) }, resource: { group: '', version: 'v1', resource },
    namespace: 'shop-prod', name: oldObject.metadata?.name ?? '', oldObject, object,
  });

  it('gates changing or removing a production Secret\'s existing keys, audits adding one', async () => {
    const judge = await defaultJudge();
    const before = secret({ password: 'b2xk', user: 'YXBw' });
    expect(decide(judge, update('secrets', before, secret({ password: 'bmV3', user: 'YXBw' })))).toMatchObject({ allowed: false, rule: 'production-secret-overwrite' });
    expect(decide(judge, update('secrets', before, secret({ user: 'YXBw' })))).toMatchObject({ allowed: false, rule: 'production-secret-overwrite' });
    expect(decide(judge, update('secrets', before, secret({ password: 'b2xk', user: 'YXBw', extra: 'eA==' })))).toMatchObject({ allowed: true, tier: 'audit', rule: 'production-change' });
    const dev = { ...update('secrets', before, secret({ password: 'bmV3' })), namespace: 'shop-dev' };
    expect(decide(judge, dev)).toMatchObject({ allowed: true, rule: 'default' });
  });

  it('gates a production ResourceQuota or LimitRange, which can stop every replacement pod', async () => {
    const judge = await defaultJudge();
    const quota = request({
      kind: { group: '', version: 'v1', kind: 'ResourceQuota' }, resource: { group: '', version: 'v1', resource: 'resourcequotas' },
      namespace: 'shop-prod', name: 'no-pods', object: { apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: 'no-pods', namespace: 'shop-prod' }, spec: { hard: { pods: '0' } } },
    });
    expect(decide(judge, quota)).toMatchObject({ allowed: false, tier: 'require-approval', rule: 'production-admission-limits' });
    expect(decide(judge, { ...quota, namespace: 'shop-dev' })).toMatchObject({ allowed: true, rule: 'default' });
  });
});
