// Captures the AdmissionReviews a real kube-apiserver sends for agents' actions, as unit-test fixtures.
//
//   node test/harness/capture-fixtures.ts        (writes test/fixtures/captured/)
//
// The expected outcome of each action is written here by hand from the default policy's intent, never copied from
// what Countersign answered, so the unit test over these fixtures checks the core against reality.
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { down, KUBECTL, kubeconfigPath, up } from './control-plane.ts';
import { loggedDecisions, type LoggedDecision } from './decision-log.ts';
import { shopManifest } from './shop.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

const ROOT = resolve(HERE, '..', '..');
const DIR = join(ROOT, '.run', 'capture');
const OUT = join(ROOT, 'test', 'fixtures', 'captured');

interface Expected {
  allowed: boolean;
  tier: string;
  rule: string;
}

interface Action {
  name: string;
  as: string;
  args: string[];
  /** Which of the reviews this action caused is the fixture: the first with this operation and resource. */
  pick: { operation: string; resource: string };
  expect: Expected;
  input?: string;
}

const CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: databases.shop.example.com}
spec:
  group: shop.example.com
  names: {kind: Database, plural: databases, singular: database, listKind: DatabaseList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;
const PV = `apiVersion: v1
kind: PersistentVolume
metadata: {name: orders-pv}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Delete
  hostPath: {path: /tmp/orders}
`;
const ROLE = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: escalator, namespace: cap-dev}
rules:
  - {apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [get, escalate, bind]}
`;

const deny = (rule: string): Expected => ({ allowed: false, tier: 'deny', rule });
const gate = (rule: string): Expected => ({ allowed: false, tier: 'require-approval', rule });
const audit: Expected = { allowed: true, tier: 'audit', rule: 'production-change' };
const allow: Expected = { allowed: true, tier: 'allow', rule: 'default' };

const ACTIONS: Action[] = [
  { name: 'delete-production-namespace', as: 'coder', args: ['delete', 'namespace', 'cap-prod', '--wait=false'], pick: { operation: 'DELETE', resource: 'namespaces' }, expect: gate('cluster-scoped-delete') },
  { name: 'delete-production-deployment', as: 'coder', args: ['delete', 'deployment', 'web', '-n', 'cap-prod'], pick: { operation: 'DELETE', resource: 'apps/deployments' }, expect: gate('production-delete') },
  { name: 'dry-run-delete-production-deployment', as: 'coder', args: ['delete', 'deployment', 'web', '-n', 'cap-prod', '--dry-run=server'], pick: { operation: 'DELETE', resource: 'apps/deployments' }, expect: gate('production-delete') },
  { name: 'orphan-delete-production-deployment', as: 'coder', args: ['delete', 'deployment', 'web', '-n', 'cap-prod', '--cascade=orphan'], pick: { operation: 'DELETE', resource: 'apps/deployments' }, expect: gate('production-delete') },
  { name: 'scale-production-to-zero', as: 'coder', args: ['scale', 'deployment', 'web', '-n', 'cap-prod', '--replicas=0'], pick: { operation: 'UPDATE', resource: 'apps/deployments/scale' }, expect: gate('production-scale-down') },
  { name: 'scale-production-3-to-2', as: 'coder', args: ['scale', 'deployment', 'web', '-n', 'cap-prod', '--replicas=2'], pick: { operation: 'UPDATE', resource: 'apps/deployments/scale' }, expect: audit },
  { name: 'patch-production-deployment-to-zero', as: 'coder', args: ['patch', 'deployment', 'web', '-n', 'cap-prod', '-p', '{"spec":{"replicas":0}}'], pick: { operation: 'UPDATE', resource: 'apps/deployments' }, expect: gate('production-scale-down') },
  { name: 'create-production-configmap', as: 'coder', args: ['create', 'configmap', 'hotfix', '-n', 'cap-prod', '--from-literal=LOG_LEVEL=debug'], pick: { operation: 'CREATE', resource: 'configmaps' }, expect: audit },
  { name: 'update-production-configmap', as: 'coder', args: ['patch', 'configmap', 'shop-config', '-n', 'cap-prod', '-p', '{"data":{"LOG_LEVEL":"debug"}}'], pick: { operation: 'UPDATE', resource: 'configmaps' }, expect: audit },
  { name: 'deletecollection-item-production-configmap', as: 'coder', args: ['delete', '--raw', '/api/v1/namespaces/cap-prod/configmaps'], pick: { operation: 'DELETE', resource: 'configmaps' }, expect: gate('production-delete') },
  { name: 'delete-development-configmap', as: 'ops-bot', args: ['delete', 'configmap', 'shop-config', '-n', 'cap-dev'], pick: { operation: 'DELETE', resource: 'configmaps' }, expect: allow },
  { name: 'create-development-pod', as: 'coder', args: ['run', 'debug', '-n', 'cap-dev', '--image=busybox:1.36', '--restart=Never', '--', 'sleep', '3600'], pick: { operation: 'CREATE', resource: 'pods' }, expect: allow },
  { name: 'delete-crd', as: 'coder', args: ['delete', 'crd', 'databases.shop.example.com'], pick: { operation: 'DELETE', resource: 'apiextensions.k8s.io/customresourcedefinitions' }, expect: gate('cluster-scoped-delete') },
  { name: 'delete-persistentvolume', as: 'coder', args: ['delete', 'pv', 'orders-pv'], pick: { operation: 'DELETE', resource: 'persistentvolumes' }, expect: gate('cluster-scoped-delete') },
  { name: 'bind-cluster-admin', as: 'coder', args: ['create', 'clusterrolebinding', 'coder-root', '--clusterrole=cluster-admin', '--serviceaccount=agents:coder'], pick: { operation: 'CREATE', resource: 'rbac.authorization.k8s.io/clusterrolebindings' }, expect: deny('rbac-bind-cluster-admin') },
  { name: 'create-escalating-role', as: 'coder', args: ['apply', '-f', '-'], input: ROLE, pick: { operation: 'CREATE', resource: 'rbac.authorization.k8s.io/roles' }, expect: deny('rbac-escalation') },
  { name: 'relabel-production-namespace', as: 'coder', args: ['label', 'namespace', 'cap-prod', 'environment=development', '--overwrite'], pick: { operation: 'UPDATE', resource: 'namespaces' }, expect: deny('environment-label-change') },
  { name: 'delete-in-countersign-namespace', as: 'coder', args: ['delete', 'serviceaccount', 'countersign', '-n', 'countersign'], pick: { operation: 'DELETE', resource: 'serviceaccounts' }, expect: deny('weakens-guard') },
];

function kubectl(identity: string, args: string[], input?: string): void {
  spawnSync(KUBECTL, ['--kubeconfig', kubeconfigPath(DIR, identity), ...args], { encoding: 'utf8', ...(input === undefined ? {} : { input }) });
}

function decisions(): LoggedDecision[] {
  return loggedDecisions(DIR);
}

async function main(): Promise<void> {
  await up(DIR, undefined);
  try {
    kubectl('admin', ['apply', '-f', '-'], shopManifest('cap-prod', 'production'));
    kubectl('admin', ['apply', '-f', '-'], shopManifest('cap-dev', 'development'));
    kubectl('admin', ['apply', '-f', '-'], CRD);
    kubectl('admin', ['apply', '-f', '-'], PV);
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(join(OUT, 'reviews'), { recursive: true });
    const expected: Record<string, Expected> = {};
    for (const action of ACTIONS) {
      const seen = decisions().length;
      kubectl(action.as, action.args, action.input);
      await new Promise((done) => setTimeout(done, 300));
      const hit = decisions().slice(seen).find((d) => d.operation === action.pick.operation && d.resource === action.pick.resource);
      if (hit === undefined) throw new Error(`${action.name}: the webhook saw no ${action.pick.operation} of ${action.pick.resource}`);
      const file = readdirSync(join(DIR, 'captured')).find((f) => f.endsWith(`-${hit.uid}.json`));
      if (file === undefined) throw new Error(`${action.name}: review ${hit.uid} was not captured`);
      copyFileSync(join(DIR, 'captured', file), join(OUT, 'reviews', `${action.name}.json`));
      expected[action.name] = action.expect;
    }
    writeFileSync(join(OUT, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
    const namespaces = spawnSync(KUBECTL, ['--kubeconfig', kubeconfigPath(DIR, 'admin'), 'get', 'namespaces', '-o', 'json'], { encoding: 'utf8' }).stdout;
    writeFileSync(join(OUT, 'cluster.json'), namespaces);
    process.stdout.write(`captured ${ACTIONS.length} reviews into ${OUT}\n`);
  } finally {
    await down(DIR);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`capture-fixtures: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
