// Issue 13, removes: an UPDATE whose verb looks harmless but after which a controller removes objects or data. Each
// attempt is made by an agent in production and judged by outcome (read back as admin); then a human does the same
// and the controllers finish the work.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, kubectlAs, mustKubectl, freshAgent, removeFreshAgent } from './kube.ts';
import {
  apply, attempt, cleanUp, countReaches, environmentNamespace, expectHumanPasses, expectRefused, field, gone, PAUSE, readBack,
} from './effects-kit.ts';

const NS = 'fx-rm-prod';
// The rule that gates an update after which a controller removes data (removal-by-update in policy/default.yaml).
const REMOVAL = 'removal-by-update';
// A production namespace being deleted, held Terminating by one object's finalizer.
const DOOMED = 'fx-rm-doomed';
const CRD = 'gadgets.fx.example.com';
// An agent of its own: other suites' pending approval requests count against the harness agents.
const AGENT = 'fx-removes-bot';
const CLAIMS = [0, 1, 2].map((i) => `data-db-${i}`);
const PVS = [...CLAIMS.map((c) => `fx-rm-${c}`), 'fx-rm-vault'];

function volume(name: string, claim: string): object {
  return {
    apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name },
    spec: {
      capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', persistentVolumeReclaimPolicy: 'Retain',
      hostPath: { path: `/tmp/${name}` }, claimRef: { namespace: NS, name: claim },
    },
  };
}

const statefulSet = {
  apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'db', namespace: NS },
  spec: {
    replicas: 3, serviceName: 'db', podManagementPolicy: 'Parallel', selector: { matchLabels: { app: 'db' } },
    persistentVolumeClaimRetentionPolicy: { whenScaled: 'Delete', whenDeleted: 'Retain' },
    template: {
      metadata: { labels: { app: 'db' } },
      spec: { containers: [{ name: 'db', image: PAUSE, volumeMounts: [{ name: 'data', mountPath: '/data' }] }] },
    },
    volumeClaimTemplates: [{
      metadata: { name: 'data' },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } },
    }],
  },
};

function job(name: string, owner?: { uid: string }): object {
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name, namespace: NS, ...(owner === undefined ? {} : { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: owner.uid, controller: true }] }) },
    spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: PAUSE }] } } },
  };
}

async function bound(claim: string): Promise<void> {
  await eventually(`claim ${claim} bound`, 90_000, () => (field('pvc', claim, NS, '.status.phase') === 'Bound' ? true : undefined));
}

beforeAll(async () => {
  freshAgent(AGENT);
  environmentNamespace(NS, 'production');
  // Static volumes, pre-bound: the real PV binder binds the StatefulSet's claims, so they hold "data".
  apply(CLAIMS.map((c) => volume(`fx-rm-${c}`, c)));
  apply(statefulSet);
  apply(volume('fx-rm-vault', 'vault'));
  apply({
    apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'vault', namespace: NS },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: 'fx-rm-vault', resources: { requests: { storage: '1Gi' } } },
  });
  // Objects held by a finalizer, deleted by a human: Terminating until something takes the finalizer off.
  apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'keep', namespace: NS, finalizers: ['example.com/keep'] }, data: { ledger: '42' } });
  apply({
    apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'held', namespace: NS, finalizers: ['example.com/keep'] },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', resources: { requests: { storage: '1Gi' } } },
  });
  attempt('admin', ['delete', 'configmap', 'keep', '-n', NS, '--wait=false']);
  attempt('admin', ['delete', 'pvc', 'held', '-n', NS, '--wait=false']);
  environmentNamespace(DOOMED, 'production');
  apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ledger', namespace: DOOMED, finalizers: ['example.com/keep'] }, data: { balance: '1' } });
  attempt('admin', ['delete', 'namespace', DOOMED, '--wait=false']);
  apply(job('report'));
  apply({
    apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: NS },
    spec: { schedule: '0 3 * * *', successfulJobsHistoryLimit: 3, failedJobsHistoryLimit: 1, jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: PAUSE }] } } } } },
  });
  const uid = field('cronjob', 'nightly', NS, '.metadata.uid');
  apply([1, 2, 3].map((i) => job(`nightly-${i}`, { uid })));
  apply({
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: CRD },
    spec: {
      group: 'fx.example.com', scope: 'Namespaced', names: { kind: 'Gadget', plural: 'gadgets', singular: 'gadget' },
      versions: ['v1', 'v1beta1'].map((name) => ({ name, served: true, storage: name === 'v1', schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } })),
    },
  });
  mustKubectl('admin', ['wait', '--for=condition=Established', '--timeout=60s', `crd/${CRD}`]);
  const gadgets = [1, 2, 3].map((i) => JSON.stringify({ apiVersion: 'fx.example.com/v1beta1', kind: 'Gadget', metadata: { name: `g-${i}`, namespace: NS } })).join('\n');
  await eventually('gadgets to be served', 30_000, () => (kubectlAs('admin', ['apply', '-f', '-'], gadgets).code === 0 ? true : undefined));
  for (const claim of [...CLAIMS, 'vault']) await bound(claim);
  await countReaches('pods', NS, 3, 'app=db');
}, 240_000);

afterAll(() => { cleanUp([NS, DOOMED], [...PVS.map((pv) => `pv/${pv}`), `crd/${CRD}`]); removeFreshAgent(AGENT); });

describe('an agent in production cannot make a controller remove data or objects', () => {
  it('scaling a StatefulSet with whenScaled: Delete from 3 to 2 (kubectl scale): the claim data-db-2 stays', () => {
    const a = attempt(AGENT, ['scale', 'statefulset', 'db', '-n', NS, '--replicas=2']);
    expect(field('statefulset', 'db', NS, '.spec.replicas')).toBe('3');
    expect(readBack('pvc', 'data-db-2', NS)).toBeDefined();
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('the same scale-down by patching spec.replicas', () => {
    const a = attempt(AGENT, ['patch', 'statefulset', 'db', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":2}}']);
    expect(field('statefulset', 'db', NS, '.spec.replicas')).toBe('3');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('switching the StatefulSet\'s whenDeleted to Delete (its claims go with it later)', () => {
    const a = attempt(AGENT, ['patch', 'statefulset', 'db', '-n', NS, '--type=merge', '-p', '{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete"}}}']);
    expect(field('statefulset', 'db', NS, '.spec.persistentVolumeClaimRetentionPolicy.whenDeleted')).toBe('Retain');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('patching a bound PersistentVolume\'s reclaim policy from Retain to Delete', () => {
    const a = attempt(AGENT, ['patch', 'pv', 'fx-rm-vault', '--type=merge', '-p', '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}']);
    expect(field('pv', 'fx-rm-vault', undefined, '.spec.persistentVolumeReclaimPolicy')).toBe('Retain');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('removing a bound PersistentVolume\'s claimRef (the data is released)', () => {
    const a = attempt(AGENT, ['patch', 'pv', 'fx-rm-vault', '--type=json', '-p', '[{"op":"remove","path":"/spec/claimRef"}]']);
    expect(field('pv', 'fx-rm-vault', undefined, '.spec.claimRef.name')).toBe('vault');
    expect(field('pvc', 'vault', NS, '.status.phase')).toBe('Bound');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('taking the finalizer off a terminating ConfigMap: it still exists, still terminating', () => {
    expect(field('configmap', 'keep', NS, '.metadata.deletionTimestamp')).not.toBe('');
    const a = attempt(AGENT, ['patch', 'configmap', 'keep', '-n', NS, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    expect(field('configmap', 'keep', NS, '.metadata.finalizers[*]')).toBe('example.com/keep');
    expect(field('configmap', 'keep', NS, '.metadata.deletionTimestamp')).not.toBe('');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('taking the finalizer off a terminating PersistentVolumeClaim (a JSON patch)', async () => {
    // The PVC protection controller drops its own finalizer (no pod uses the claim); ours keeps it.
    await eventually('only example.com/keep on the claim', 60_000, () => (field('pvc', 'held', NS, '.metadata.finalizers[*]') === 'example.com/keep' ? true : undefined));
    const a = attempt(AGENT, ['patch', 'pvc', 'held', '-n', NS, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]']);
    expect(field('pvc', 'held', NS, '.metadata.finalizers[*]')).toBe('example.com/keep');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('the same through the claim\'s status subresource (its strategy keeps metadata changes)', () => {
    const a = attempt(AGENT, ['patch', 'pvc', 'held', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    expect(field('pvc', 'held', NS, '.metadata.finalizers[*]')).toBe('example.com/keep');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('dropping the finalizers of a terminating namespace (namespaces/finalize): it and its contents stay', async () => {
    await eventually('the namespace controller to have emptied all it can', 60_000, () => (field('namespace', DOOMED, undefined, '.status.conditions[?(@.type=="NamespaceFinalizersRemaining")].status') === 'True' ? true : undefined));
    const namespace = readBack('namespace', DOOMED) as { spec: { finalizers?: string[] } };
    expect(namespace.spec.finalizers).toEqual(['kubernetes']);
    namespace.spec.finalizers = [];
    const a = attempt(AGENT, ['replace', '--raw', `/api/v1/namespaces/${DOOMED}/finalize`, '-f', '-'], JSON.stringify(namespace));
    expect(field('namespace', DOOMED, undefined, '.spec.finalizers[*]')).toBe('kubernetes');
    expect(readBack('configmap', 'ledger', DOOMED)).toBeDefined();
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('giving a Job ttlSecondsAfterFinished (the TTL controller would delete it and its pods)', () => {
    const a = attempt(AGENT, ['patch', 'job', 'report', '-n', NS, '--type=merge', '-p', '{"spec":{"ttlSecondsAfterFinished":0}}']);
    expect(field('job', 'report', NS, '.spec.ttlSecondsAfterFinished')).toBe('');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('lowering a CronJob\'s successfulJobsHistoryLimit while it owns 3 Jobs', () => {
    const a = attempt(AGENT, ['patch', 'cronjob', 'nightly', '-n', NS, '--type=merge', '-p', '{"spec":{"successfulJobsHistoryLimit":0}}']);
    expect(field('cronjob', 'nightly', NS, '.spec.successfulJobsHistoryLimit')).toBe('3');
    expect(['nightly-1', 'nightly-2', 'nightly-3'].map((j) => readBack('job', j, NS) !== undefined)).toEqual([true, true, true]);
    expectRefused(a, 'require-approval', [REMOVAL]);
  });

  it('unserving the version of a CRD its 3 custom resources are read through', () => {
    const index = field('crd', CRD, undefined, '.spec.versions[*].name').split(' ').indexOf('v1beta1');
    const a = attempt(AGENT, ['patch', 'crd', CRD, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: `/spec/versions/${String(index)}/served`, value: false }])]);
    expect(field('crd', CRD, undefined, '.spec.versions[?(@.name=="v1beta1")].served')).toBe('true');
    expectRefused(a, 'require-approval', [REMOVAL]);
  });
});

describe('a human doing the same passes, and the controllers finish the work', () => {
  it('scales the StatefulSet 3 -> 2: the StatefulSet controller deletes pod db-2 and, under whenScaled Delete, claim data-db-2', async () => {
    expectHumanPasses(attempt('admin', ['scale', 'statefulset', 'db', '-n', NS, '--replicas=2']));
    await gone('pod', 'db-2', NS);
    await gone('pvc', 'data-db-2', NS);
    expect(readBack('pvc', 'data-db-1', NS)).toBeDefined();
    // Retain: the volume is released, not deleted.
    await eventually('volume fx-rm-data-db-2 released', 60_000, () => (field('pv', 'fx-rm-data-db-2', undefined, '.status.phase') === 'Released' ? true : undefined));
  });

  it('takes the finalizer off the terminating ConfigMap: its deletion completes', async () => {
    expectHumanPasses(attempt('admin', ['patch', 'configmap', 'keep', '-n', NS, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']));
    await gone('configmap', 'keep', NS, 30_000);
  });

  it('changes the volume\'s reclaim policy to Delete', () => {
    expectHumanPasses(attempt('admin', ['patch', 'pv', 'fx-rm-vault', '--type=merge', '-p', '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}']));
    expect(field('pv', 'fx-rm-vault', undefined, '.spec.persistentVolumeReclaimPolicy')).toBe('Delete');
  });
});
