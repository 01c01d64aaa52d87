// Issue 13, acts as and weakens the guard: a workload that runs as an identity stronger than the agent (or one
// Countersign never judges), in development where nothing else would stop it; and Countersign's own RBAC. Judged by
// outcome (read back as admin); then a human does the same.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubectlAs, freshAgent, removeFreshAgent } from './kube.ts';
import {
  apply, attempt, cleanUp, countReaches, deployment, environmentNamespace, expectAllowedQuietly, expectHumanPasses, expectRefused, field, names, PAUSE, readBack,
} from './effects-kit.ts';

const DEV = 'fx-acts-dev';
// An agent of its own: other suites' pending approval requests count against the harness agents.
const AGENT = 'fx-identity-bot';
const GUARD = 'countersign-e2e-guard';
const POWERFUL_BINDING = 'fx-acts-powerful';

function cronJob(name: string, serviceAccountName: string): string {
  return JSON.stringify({
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: DEV },
    spec: { schedule: '*/5 * * * *', jobTemplate: { spec: { template: { spec: { serviceAccountName, restartPolicy: 'Never', containers: [{ name: 'run', image: PAUSE }] } } } } },
  });
}

beforeAll(() => {
  freshAgent(AGENT);
  environmentNamespace(DEV, 'development');
  apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'powerful', namespace: DEV } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: POWERFUL_BINDING }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'powerful', namespace: DEV }] },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'deployer', namespace: DEV } },
    // A CI deployer: deletes Deployments in every namespace, production's too (a ClusterRoleBinding).
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'fx-deployer' }, rules: [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'delete'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'fx-deployer' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'fx-deployer' }, subjects: [{ kind: 'ServiceAccount', name: 'deployer', namespace: DEV }] },
    // An app that reads its own namespace's Secrets: rights that stay in a development namespace.
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app-reader', namespace: DEV } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'app-reader', namespace: DEV }, rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'app-reader', namespace: DEV }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'app-reader' }, subjects: [{ kind: 'ServiceAccount', name: 'app-reader', namespace: DEV }] },
    deployment('plain', DEV, 1),
    // Labelled as the chart labels Countersign's RBAC: a role of Countersign's a test may delete without harm.
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: GUARD, labels: { 'app.kubernetes.io/name': 'countersign' } }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] }] },
    // Unlabelled, but naming Countersign's ServiceAccount as its subject.
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: GUARD }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: GUARD }, subjects: [{ kind: 'ServiceAccount', name: 'countersign', namespace: 'countersign' }] },
  ]);
});

afterAll(() => {
  removeFreshAgent(AGENT);
  cleanUp([DEV], [`clusterrolebinding/${POWERFUL_BINDING}`, `clusterrolebinding/${GUARD}`, `clusterrole/${GUARD}`, 'clusterrolebinding/fx-deployer', 'clusterrole/fx-deployer', 'flowschema/fx-starve', 'apiservice/v1beta9.countersign.dev']);
  for (const kind of ['clusterrole', 'clusterrolebinding']) kubectlAs('admin', ['label', kind, 'countersign', 'fx-e2e-']);
});

describe('an agent in development cannot make a workload act as a stronger identity', () => {
  it('a Deployment running as fx-acts-dev/powerful (cluster-admin): it does not exist', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(deployment('escalate', DEV, 1, { serviceAccountName: 'powerful' })));
    expect(readBack('deployment', 'escalate', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('a CronJob whose jobTemplate runs as it', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], cronJob('escalate', 'powerful'));
    expect(readBack('cronjob', 'escalate', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('a StatefulSet, a Job and a ReplicationController running as it', () => {
    const template = { metadata: { labels: { app: 'sts' } }, spec: { serviceAccountName: 'powerful', containers: [{ name: 'app', image: PAUSE }] } };
    const sts = { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'escalate', namespace: DEV }, spec: { replicas: 1, serviceName: 'escalate', selector: { matchLabels: { app: 'sts' } }, template } };
    const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'escalate', namespace: DEV }, spec: { template: { spec: { ...template.spec, restartPolicy: 'Never' } } } };
    const rc = { apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'escalate', namespace: DEV }, spec: { replicas: 1, selector: { app: 'sts' }, template } };
    const bySts = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(sts));
    const byJob = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(job));
    const byRc = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(rc));
    expect(['statefulset', 'job', 'replicationcontroller'].map((kind) => readBack(kind, 'escalate', DEV))).toEqual([undefined, undefined, undefined]);
    for (const a of [bySts, byJob, byRc]) expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('a Deployment naming it in the deprecated serviceAccount field', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(deployment('alias', DEV, 1, { serviceAccount: 'powerful' })));
    expect(readBack('deployment', 'alias', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('an existing Deployment switched to run as it', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'plain', '-n', DEV, '--type=merge', '-p', '{"spec":{"template":{"spec":{"serviceAccountName":"powerful"}}}}']);
    expect(field('deployment', 'plain', DEV, '.spec.template.spec.serviceAccountName')).toBe('');
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('but may run a Pod as fx-acts-dev/app-reader, whose rights stay in its development namespace', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'app-reader', namespace: DEV }, spec: { serviceAccountName: 'app-reader', containers: [{ name: 'app', image: PAUSE }] } };
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(pod));
    expect(a.run.code).toBe(0);
    expect(readBack('pod', 'app-reader', DEV)).toBeDefined();
  });

  it('a Pod running as fx-acts-dev/deployer, not an agent but able to delete Deployments in every namespace', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'deployer', namespace: DEV }, spec: { serviceAccountName: 'deployer', containers: [{ name: 'app', image: PAUSE }] } };
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(pod));
    expect(readBack('pod', 'deployer', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['acts-as-unjudged-identity']);
  });

  it('but may run a Deployment as fx-acts-dev/default, which holds no rights', () => {
    expectAllowedQuietly(attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(deployment('ordinary', DEV, 1))));
    expect(readBack('deployment', 'ordinary', DEV)).toBeDefined();
  });

  it('a human may run a Deployment as powerful', () => {
    expectHumanPasses(attempt('admin', ['apply', '-f', '-'], JSON.stringify(deployment('escalate', DEV, 1, { serviceAccountName: 'powerful' }))));
    expect(field('deployment', 'escalate', DEV, '.spec.template.spec.serviceAccountName')).toBe('powerful');
  });
});

describe('nor use a workload a human runs as that identity', () => {
  let pod = '';
  beforeAll(async () => {
    await countReaches('pods', DEV, 1, 'app=escalate');
    pod = names('pods', DEV, 'app=escalate')[0]!.replace('pod/', '');
  });

  it('changing the command of the human\'s Deployment that runs as powerful', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'escalate', '-n', DEV, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/command', value: ['sh', '-c', 'kubectl delete ns --all'] }])]);
    expect(field('deployment', 'escalate', DEV, '.spec.template.spec.containers[0].command')).toBe('');
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('a shell into its pod (kubectl exec)', () => {
    const a = attempt(AGENT, ['exec', pod, '-n', DEV, '--', 'true']);
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });

  it('a debug container in its pod (the restricted profile: no capability, so only the identity is at stake)', () => {
    const a = attempt(AGENT, ['debug', pod, '-n', DEV, `--image=${PAUSE}`, '--profile=restricted']);
    expect(field('pod', pod, DEV, '.spec.ephemeralContainers')).toBe('');
    expectRefused(a, 'require-approval', ['acts-as-stronger-identity']);
  });
});

describe('an agent cannot weaken the guard (denied, whoever would approve)', () => {
  it('deleting Countersign\'s ClusterRole (labelled app.kubernetes.io/name=countersign)', () => {
    const a = attempt(AGENT, ['delete', 'clusterrole', GUARD]);
    expect(readBack('clusterrole', GUARD)).toBeDefined();
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('patching its rules away', () => {
    const a = attempt(AGENT, ['patch', 'clusterrole', GUARD, '--type=json', '-p', '[{"op":"remove","path":"/rules/0"}]']);
    expect(field('clusterrole', GUARD, undefined, '.rules[0].resources[0]')).toBe('configmaps');
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('emptying the subjects of a ClusterRoleBinding naming Countersign\'s ServiceAccount', () => {
    const a = attempt(AGENT, ['patch', 'clusterrolebinding', GUARD, '--type=merge', '-p', '{"subjects":[]}']);
    expect(field('clusterrolebinding', GUARD, undefined, '.subjects[0].name')).toBe('countersign');
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('deleting that ClusterRoleBinding', () => {
    const a = attempt(AGENT, ['delete', 'clusterrolebinding', GUARD]);
    expect(readBack('clusterrolebinding', GUARD)).toBeDefined();
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('touching the harness\'s own binding of Countersign (a harmless label, so a miss breaks nothing)', () => {
    const a = attempt(AGENT, ['label', 'clusterrolebinding', 'countersign', 'fx-e2e=touched']);
    expect(field('clusterrolebinding', 'countersign', undefined, '.metadata.labels.fx-e2e')).toBe('');
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('touching the ClusterRole that binding grants (a harmless label)', () => {
    const a = attempt(AGENT, ['label', 'clusterrole', 'countersign', 'fx-e2e=touched']);
    expect(field('clusterrole', 'countersign', undefined, '.metadata.labels.fx-e2e')).toBe('');
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('a FlowSchema that could starve Countersign\'s requests', () => {
    const flow = {
      apiVersion: 'flowcontrol.apiserver.k8s.io/v1', kind: 'FlowSchema', metadata: { name: 'fx-starve' },
      spec: { priorityLevelConfiguration: { name: 'catch-all' }, matchingPrecedence: 100, rules: [{ subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: 'countersign', namespace: 'countersign' } }], resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] }] }] },
    };
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(flow));
    expect(readBack('flowschema', 'fx-starve')).toBeUndefined();
    expectRefused(a, 'deny', ['weakens-guard']);
  });

  it('an APIService rerouting a version of Countersign\'s API group', () => {
    const service = {
      apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1beta9.countersign.dev' },
      spec: { group: 'countersign.dev', version: 'v1beta9', groupPriorityMinimum: 1000, versionPriority: 100, insecureSkipTLSVerify: true, service: { namespace: DEV, name: 'fake', port: 443 } },
    };
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(service));
    expect(readBack('apiservice', 'v1beta9.countersign.dev')).toBeUndefined();
    // The static self-defence policy answers before any webhook; if it did not, Countersign must.
    expect(a.run.code).not.toBe(0);
    expect(a.said).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-webhooks\.static\.k8s\.io'|Countersign denied this request \(rule weakens-guard\)/);
  });

  it('a human may change it', () => {
    expectHumanPasses(attempt('admin', ['label', 'clusterrole', GUARD, 'reviewed=yes']));
    expect(field('clusterrole', GUARD, undefined, '.metadata.labels.reviewed')).toBe('yes');
  });
});
