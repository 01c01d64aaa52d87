// The default policy's effects rules through the pure core (defaultJudge().decide): each gates its request in
// production and lets the same through in development where the rule says so; node-access and acts-as-* apply in
// every environment; identity facts that cannot be had refuse a workload unless a denial decides first.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { AdmissionRequest, KubeObject } from '../../../../src/kube/types.js';
import type { Decision, DecisionInput, Judge } from '../../../../src/core/decide.js';
import type { IdentityFacts } from '../../../../src/core/effects/index.js';
import { staticPicture } from '../../../../src/picture/cluster-picture.js';
import { defaultJudge, namespaceNamed, offline, OFFLINE } from '../../../helpers/fixtures.js';
import { connect, configMap, container, create, edited, ownedBy, pod, podSpec, setClaims, update, workload } from '../../../helpers/effects.js';

type Spec = Record<string, unknown>;
const templateSpec = (o: KubeObject): Spec => ((o.spec as Spec).template as { spec: Spec }).spec;

let judge: Judge;
beforeAll(async () => { judge = await defaultJudge(); });

interface Facts {
  /** The cluster picture's objects (empty unless given). */
  objects?: readonly unknown[];
  /** Identity facts; every identity holding nothing unless given, none at all with `null`. */
  identities?: IdentityFacts | null;
}

function decide(request: AdmissionRequest, { objects = [], identities }: Facts = {}): Decision {
  const namespace = request.namespace === undefined ? undefined : namespaceNamed(request.namespace);
  const input: DecisionInput = {
    request, ...(namespace === undefined ? {} : { namespace }), ...offline(request), picture: { view: staticPicture(objects).view },
  };
  if (identities === null) return judge.decide({ ...OFFLINE, ...input, identities: undefined });
  return judge.decide(identities === undefined ? input : { ...input, identities });
}

const rules = (d: Decision): string[] => d.fired.map((f) => f.rule);

/** In `ns`: the decision's rule, whether it passed, and the rules fired. */
function expectGated(d: Decision, rule: string): void {
  expect(d).toMatchObject({ allowed: false, tier: 'require-approval', rule, errored: false });
}

function expectDefault(d: Decision): void {
  expect(d).toMatchObject({ allowed: true, tier: 'allow', rule: 'default', fired: [] });
}

function expectAuditedOnly(d: Decision): void {
  expect(d).toMatchObject({ allowed: true, tier: 'audit', rule: 'production-change' });
  expect(d.fired).toEqual([{ rule: 'production-change', tier: 'audit' }]);
}

const deployment = (ns: string, replicas: number): KubeObject => workload('Deployment', `${ns}/web`, { replicas });

/** The same workload with more memory: a template change (a rollout) that runs no new code. */
function withResources(o: KubeObject): KubeObject {
  return edited(o, (c) => { templateSpec(c).containers = [container('web', 'shop/web:1.0', { resources: { limits: { memory: '1Gi' } } })]; });
}

describe('weakens-guard', () => {
  it('denies changing a webhook configuration and anything in Countersign\'s namespace (in development too)', () => {
    const vwc = { metadata: { name: 'countersign', uid: 'vwc' }, webhooks: [] };
    expect(decide(update('admissionregistration.k8s.io/validatingwebhookconfigurations', vwc, { ...vwc, webhooks: [{ name: 'x' }] })))
      .toMatchObject({ allowed: false, tier: 'deny', rule: 'weakens-guard' });
    const d = decide(update('configmaps', configMap('countersign', 'config'), configMap('countersign', 'config', { a: 'b' })));
    expect(d).toMatchObject({ allowed: false, tier: 'deny', rule: 'weakens-guard', environment: 'development' });
    expect(d.status?.message).toContain('agents may not weaken Countersign: changes configmaps config in Countersign\'s namespace countersign');
  });

  it('denies an exec into Countersign\'s own pod (its namespace is development by default)', () => {
    const d = decide(connect('pods', 'exec', 'countersign', 'countersign-7d9f-abcde'));
    expect(d).toMatchObject({ allowed: false, tier: 'deny', rule: 'weakens-guard', environment: 'development' });
  });

  it('leaves an unrelated ClusterRole change to the rules that judge RBAC (no weakens-guard, no denial)', () => {
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'shop-reader', uid: 'cr' }, rules: [] };
    const d = decide(update('rbac.authorization.k8s.io/clusterroles', role, { ...role, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }));
    expect(rules(d)).not.toContain('weakens-guard');
    expect(d.tier).not.toBe('deny');
  });
});

describe('removal-by-update', () => {
  function ttl(ns: string): { request: AdmissionRequest; objects: KubeObject[] } {
    const job: KubeObject = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'report', namespace: ns, uid: `job-${ns}` }, spec: { template: { spec: podSpec({ restartPolicy: 'Never' }) } } };
    const after = edited(job, (j) => { (j.spec as Spec).ttlSecondsAfterFinished = 60; });
    return { request: update('batch/jobs', job, after), objects: [job, ownedBy(pod(ns, 'report-a'), `job-${ns}`)] };
  }

  it('gates a production Job given a TTL, with what goes in the message and the approved impact', () => {
    const { request, objects } = ttl('shop-prod');
    const d = decide(request, { objects });
    expectGated(d, 'removal-by-update');
    expect(d.status?.message).toContain('ttlSecondsAfterFinished 60: the TTL controller deletes job shop-prod/report and its pods once finished, removing 2 objects');
    expect(d.impact).toMatchObject({ total: 2, byResource: { 'jobs.batch': 1, pods: 1 } });
  });

  it('lets the same through in development (no data, few objects)', () => {
    const { request, objects } = ttl('shop-dev');
    expectDefault(decide(request, { objects }));
  });

  it('gates a development StatefulSet scale-down that deletes bound claims (data, whatever the environment)', () => {
    const set = (replicas: number): KubeObject => workload('StatefulSet', 'shop-dev/db', {
      replicas, volumeClaimTemplates: [{ metadata: { name: 'data' } }], persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' },
    });
    const d = decide(update('apps/statefulsets', set(4), set(2)), { objects: setClaims('shop-dev', 'data', 'db', 4) });
    expectGated(d, 'removal-by-update');
    expect(d.status?.message).toContain('scaling down deletes claims data-db-2, data-db-3');
    expect(d.impact).toMatchObject({ boundClaims: 2, byResource: { persistentvolumeclaims: 2, persistentvolumes: 2 } });
    // Retained claims: nothing removed, the scale-down passes in development.
    const retained = (replicas: number): KubeObject => edited(set(replicas), (s) => { delete (s.spec as Spec).persistentVolumeClaimRetentionPolicy; });
    expectDefault(decide(update('apps/statefulsets', retained(4), retained(2)), { objects: setClaims('shop-dev', 'data', 'db', 4) }));
  });
});

describe('removal-by-update: finalizers', () => {
  it('gates namespaces/finalize of a terminating namespace: production for its contents, development for its data', () => {
    const terminating = (name: string): KubeObject => {
      const metadata = { name, uid: `ns-${name}`, deletionTimestamp: '2026-12-07T10:00:00Z' };
      return { kind: 'Namespace', metadata, spec: { finalizers: ['kubernetes'] } };
    };
    const finalize = (name: string): AdmissionRequest => update('namespaces', terminating(name), edited(terminating(name), (n) => { n.spec = { finalizers: [] }; }), 'finalize');
    const prod = decide(finalize('gone-prod'), { objects: [terminating('gone-prod'), configMap('gone-prod', 'a')] });
    expect(prod).toMatchObject({ allowed: false, rule: 'removal-by-update', environment: 'production' });
    expect(prod.status?.message).toContain('removes finalizer kubernetes from namespaces gone-prod, which is being deleted: the deletion completes, removing 2 objects');
    const dev = terminating('scratch');
    expectGated(decide(finalize('scratch'), { objects: [dev, ...setClaims('scratch', 'data', 'db', 1)] }), 'removal-by-update');
    expectDefault(decide(finalize('scratch'), { objects: [dev, configMap('scratch', 'a')] }));
  });
});

describe('production-pods-stopped', () => {
  const job = (ns: string, suspend: boolean, parallelism: number): KubeObject => ({
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'etl', namespace: ns, uid: `etl-${ns}` },
    spec: { parallelism, suspend, template: { spec: podSpec({ restartPolicy: 'Never' }) } },
  });

  it('gates suspending a production Job with more than 5 pods', () => {
    const d = decide(update('batch/jobs', job('shop-prod', false, 6), job('shop-prod', true, 6)));
    expectGated(d, 'production-pods-stopped');
    expect(d.status?.message).toContain('suspends jobs shop-prod/etl (its running pods are deleted)');
  });

  it('audits 5 of 12 pods stopped in production, and lets 6 through in development', () => {
    const web = (ns: string, replicas: number): KubeObject => workload('Deployment', `${ns}/web`, { replicas }, podSpec());
    expectAuditedOnly(decide(update('apps/deployments', web('shop-prod', 12), web('shop-prod', 7))));
    expectDefault(decide(update('apps/deployments', web('shop-dev', 12), web('shop-dev', 6))));
  });

  it('counts a Job\'s stopped pods against its parallelism: 20 -> 19 is audited, a suspend gated', () => {
    const job20 = (parallelism: number): KubeObject => ({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'batch', namespace: 'shop-prod' }, spec: { parallelism, template: { spec: podSpec() } } });
    expectAuditedOnly(decide(update('batch/jobs', job20(20), job20(19))));
  });

  it('gates stopping more than half of a workload, however few pods that is (a Job suspended, all of a small Deployment)', () => {
    expectGated(decide(update('batch/jobs', job('shop-prod', false, 5), job('shop-prod', true, 5))), 'production-pods-stopped');
    const small = (strategy: string): KubeObject => workload('Deployment', 'shop-prod/small', { replicas: 3, strategy: { type: strategy } }, podSpec({ containers: [{ name: 'web', image: 'shop/web:1' }] }));
    const recreate = edited(small('Recreate'), (d) => { ((d.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0] as { image: string }).image = 'shop/web:2'; });
    expect(rules(decide(update('apps/deployments', small('Recreate'), recreate)))).toContain('production-pods-stopped');
  });

  it('gates a NoExecute taint on a Node (cluster-scoped: production), not a NoSchedule one', () => {
    const node = (effect?: string): KubeObject => ({ kind: 'Node', metadata: { name: 'n1', uid: 'n1' }, spec: effect === undefined ? {} : { taints: [{ key: 'k', effect }] } });
    expectGated(decide(update('nodes', node(), node('NoExecute'))), 'production-pods-stopped');
    expect(rules(decide(update('nodes', node(), node('NoSchedule'))))).not.toContain('production-pods-stopped');
  });
});

describe('production-rollout', () => {
  it('gates a production template change replacing more than 10 pods', () => {
    const d = decide(update('apps/deployments', deployment('shop-prod', 12), withResources(deployment('shop-prod', 12))));
    expectGated(d, 'production-rollout');
    expect(d.status?.message).toContain('rolls out a new pod template for deployments shop-prod/web (12 pods replaced)');
  });

  it('gates a production rollout restart of 12 pods (template annotation only)', () => {
    const web = deployment('shop-prod', 12);
    const restarted = edited(web, (d) => {
      ((d.spec as Spec).template as { metadata: Spec }).metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-12-07T14:00:00Z' };
    });
    const d = decide(update('apps/deployments', web, restarted));
    expectGated(d, 'production-rollout');
    expect(rules(d)).toEqual(['production-rollout', 'production-change']);
  });

  it('audits 10 pods replaced in production, and lets 12 through in development', () => {
    expectAuditedOnly(decide(update('apps/deployments', deployment('shop-prod', 10), withResources(deployment('shop-prod', 10)))));
    expectDefault(decide(update('apps/deployments', deployment('shop-dev', 12), withResources(deployment('shop-dev', 12)))));
  });
});

describe('production-traffic-cut', () => {
  const service = (ns: string, app: string): KubeObject => ({ kind: 'Service', metadata: { name: 'web', namespace: ns, uid: `svc-${ns}` }, spec: { selector: { app }, ports: [{ port: 80 }] } });

  it('gates a production Service selector change, lets it through in development', () => {
    const d = decide(update('services', service('shop-prod', 'web'), service('shop-prod', 'none')));
    expectGated(d, 'production-traffic-cut');
    expect(d.status?.message).toContain('changes the selector of Service shop-prod/web');
    expectDefault(decide(update('services', service('shop-dev', 'web'), service('shop-dev', 'none'))));
  });

  it('gates a NetworkPolicy created in production', () => {
    const policy = { kind: 'NetworkPolicy', metadata: { name: 'deny', namespace: 'shop-prod' }, spec: { podSelector: {} } };
    expectGated(decide(create('networking.k8s.io/networkpolicies', policy)), 'production-traffic-cut');
  });
});

describe('production-runs-code', () => {
  it('gates pods/exec in production and lets it through in development', () => {
    const d = decide(connect('pods', 'exec', 'shop-prod', 'web-1'));
    expectGated(d, 'production-runs-code');
    expect(d.status?.message).toContain('executes a command in pods shop-prod/web-1 in production');
    expectDefault(decide(connect('pods', 'exec', 'shop-dev', 'web-1')));
  });

  it('gates a production command change; a new tag of the same image is audited only', () => {
    const before = deployment('shop-prod', 3);
    const command = edited(before, (d) => { templateSpec(d).containers = [container('web', 'shop/web:1.0', { command: ['sh'] })]; });
    expectGated(decide(update('apps/deployments', before, command)), 'production-runs-code');
    const release = edited(before, (d) => { templateSpec(d).containers = [container('web', 'shop/web:1.1')]; });
    expectAuditedOnly(decide(update('apps/deployments', before, release)));
  });
});

describe('node-access', () => {
  const privileged = (ns: string): KubeObject => pod(ns, 'root', podSpec({ containers: [container('sh', 'busybox', { securityContext: { privileged: true } })] }));

  it('gates a privileged pod in development', () => {
    const d = decide(create('pods', privileged('shop-dev')));
    expectGated(d, 'node-access');
    expect(rules(d)).toEqual(['node-access']);
  });

  it('gates it in production too, where production-runs-code comes first', () => {
    const d = decide(create('pods', privileged('shop-prod')));
    expectGated(d, 'production-runs-code');
    expect(rules(d)).toEqual(expect.arrayContaining(['production-runs-code', 'node-access']));
  });

  it('gates the kubelet\'s proxy (nodes/proxy, cluster-scoped)', () => {
    const d = decide(connect('nodes', 'proxy', undefined, 'node-1'));
    expectGated(d, 'production-runs-code');
    expect(rules(d)).toEqual(['production-runs-code', 'node-access']);
  });

  it('lets an unprivileged pod through in development', () => {
    expectDefault(decide(create('pods', pod('shop-dev', 'plain'))));
  });
});

describe('acts-as-stronger-identity and acts-as-unjudged-identity', () => {
  const web = workload('Deployment', 'shop-dev/web', { replicas: 1 }, podSpec({ serviceAccountName: 'deployer' }));
  const deployerWith = (rights: string[], agentRights: string[]): IdentityFacts => ({ workloads: [{ namespace: 'shop-dev', name: 'deployer', rights }], agentRights });

  it('gates a development workload whose identity holds rights the agent lacks', () => {
    const d = decide(create('apps/deployments', web), { identities: deployerWith(['get secrets'], []) });
    expectGated(d, 'acts-as-stronger-identity');
    expect(d.status?.message).toContain('the workload would run as system:serviceaccount:shop-dev:deployer, which may get secrets (the agent may not)');
  });

  it('gates it in production too, where production-runs-code comes first', () => {
    const prod = workload('Deployment', 'shop-prod/web', { replicas: 1 }, podSpec({ serviceAccountName: 'deployer' }));
    const d = decide(create('apps/deployments', prod), { identities: { workloads: [{ namespace: 'shop-prod', name: 'deployer', rights: ['get secrets'] }], agentRights: [] } });
    expectGated(d, 'production-runs-code');
    expect(rules(d)).toEqual(expect.arrayContaining(['acts-as-stronger-identity', 'acts-as-unjudged-identity']));
  });

  it('gates a non-agent identity holding rights beyond the namespace even when the agent holds them too', () => {
    const d = decide(create('apps/deployments', web), { identities: deployerWith(['delete namespaces'], ['delete namespaces']) });
    expectGated(d, 'acts-as-unjudged-identity');
    expect(rules(d)).toEqual(['acts-as-unjudged-identity']);
  });

  it('lets a development workload run as an app identity whose rights stay in its namespace (development work is free)', () => {
    expectDefault(decide(create('apps/deployments', web), { identities: deployerWith(['get secrets'], ['get secrets']) }));
  });

  it('judges a new tag of the same image like any change when the identity holds rights beyond its namespace', () => {
    const tagged = (tag: string): KubeObject => edited(web, (d) => { templateSpec(d).containers = [container('web', `shop/web:${tag}`)]; });
    const strong: IdentityFacts = { workloads: [{ namespace: 'shop-dev', name: 'deployer', rights: ['delete namespaces'], clusterWide: ['delete namespaces'] }], agentRights: [] };
    const bump = decide(update('apps/deployments', tagged('1.0'), tagged('1.0-evil')), { identities: strong });
    expect(bump.allowed).toBe(false);
    expect(rules(bump)).toEqual(expect.arrayContaining(['acts-as-stronger-identity', 'acts-as-unjudged-identity']));
    // Rights that stay in the namespace: a release, as before.
    expectDefault(decide(update('apps/deployments', tagged('1.0'), tagged('1.1')), { identities: deployerWith(['get secrets'], []) }));
  });

  it('lets through an identity with no dangerous rights, and an agent\'s own with rights the agent holds', () => {
    expectDefault(decide(create('apps/deployments', web), { identities: deployerWith([], ['get secrets']) }));
    const asAgent = workload('Deployment', 'agents/helper', { replicas: 1 }, podSpec({ serviceAccountName: 'coder' }));
    expectDefault(decide(create('apps/deployments', asAgent), { identities: { workloads: [{ namespace: 'agents', name: 'coder', rights: ['get secrets'] }], agentRights: ['get secrets'] } }));
  });
});

describe('what the effects rules leave alone', () => {
  it('audits a single production ConfigMap patch, with no other rule fired', () => {
    expectAuditedOnly(decide(update('configmaps', configMap('shop-prod', 'flags', { a: '1' }), configMap('shop-prod', 'flags', { a: '2' }))));
  });

  it('lets an agent create and patch a development Deployment (rule default)', () => {
    const web = deployment('shop-dev', 3);
    expectDefault(decide(create('apps/deployments', web)));
    expectDefault(decide(update('apps/deployments', web, edited(web, (d) => { templateSpec(d).containers = [container('web', 'shop/web:2.0')]; }))));
    expectDefault(decide(update('apps/deployments', web, withResources(web))));
    const env = edited(web, (d) => { templateSpec(d).containers = [container('web', 'shop/web:1.0', { env: [{ name: 'A', value: '1' }] })]; });
    expectDefault(decide(update('apps/deployments', web, env)));
  });
});

describe('identity-unavailable', () => {
  it('refuses a workload create when no identity facts were given', () => {
    const d = decide(create('apps/deployments', deployment('shop-dev', 1)), { identities: null });
    expect(d).toMatchObject({ allowed: false, rule: 'identity-unavailable', errored: true });
    expect(d.status?.message).toContain('the rights of the identity this workload would run as could not be checked (no connection to the cluster to ask)');
    const unavailable = decide(create('apps/deployments', deployment('shop-dev', 1)), { identities: { unavailable: 'SubjectAccessReview timed out' } as unknown as IdentityFacts });
    expect(unavailable).toMatchObject({ allowed: false, rule: 'identity-unavailable' });
    expect(unavailable.status?.message).toContain('SubjectAccessReview timed out');
  });

  it('lets a denial decide first: a pod in kube-system is system-namespaces', () => {
    expect(decide(create('pods', pod('kube-system', 'p')), { identities: null })).toMatchObject({ allowed: false, tier: 'deny', rule: 'system-namespaces', errored: false });
  });

  it('does not ask for identities when the request starts no workload', () => {
    expectDefault(decide(update('configmaps', configMap('shop-dev', 'c'), configMap('shop-dev', 'c', { a: 'b' })), { identities: null }));
    const web = deployment('shop-dev', 1);
    expectDefault(decide(update('apps/deployments', web, edited(web, (d) => { (d.spec as Spec).replicas = 3; })), { identities: null }));
  });
});
