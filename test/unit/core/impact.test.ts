// Blast radius at the cascade root, over real DELETE reviews captured from the apiserver and a picture built the
// way the watches build it (toEntry over objects shaped like the apiserver's).
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { computeImpact, describeImpact, propagationOf } from '../../../src/core/impact.js';
import { toEntry } from '../../../src/core/picture-view/entry.js';
import { PictureIndex } from '../../../src/core/picture-view/picture-index.js';
import { judgeFrom, readJson } from '../../helpers/fixtures.js';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEPLOYMENT_UID = '28101ee2-e4ca-4334-b52e-f4c2d4ad8d86';

function captured(name: string): AdmissionRequest {
  return (readJson(join(HERE, '..', '..', 'fixtures', 'captured', 'reviews', `${name}.json`)) as { request: AdmissionRequest }).request;
}

interface Shape {
  namespace?: string;
  owners?: string[];
  finalizers?: string[];
  spec?: unknown;
  status?: unknown;
}

function add(index: PictureIndex, resource: string, [name, uid]: [string, string], shape: Shape = {}): void {
  const metadata = {
    name, uid, ...(shape.namespace === undefined ? {} : { namespace: shape.namespace }),
    ...(shape.owners === undefined ? {} : { ownerReferences: shape.owners.map((owner) => ({ apiVersion: 'v1', kind: 'X', name: 'x', uid: owner })) }),
    ...(shape.finalizers === undefined ? {} : { finalizers: shape.finalizers }),
  };
  const entry = toEntry(resource, { metadata, spec: shape.spec, status: shape.status });
  if (entry === undefined) throw new Error('no entry');
  index.upsert(entry);
}

/** cap-prod: the captured Deployment web with a ReplicaSet and 3 pods, 10 ConfigMaps, a bound claim on a Delete volume. */
function capProd(): PictureIndex {
  const index = new PictureIndex();
  const ns = 'cap-prod';
  add(index, 'namespaces', [ns, '8bbc0139-2e1b-4349-a3a1-b980e0754ff5']);
  add(index, 'deployments.apps', ['web', DEPLOYMENT_UID], { namespace: ns });
  add(index, 'replicasets.apps', ['web-5d9', 'rs-1'], { namespace: ns, owners: [DEPLOYMENT_UID] });
  for (let i = 0; i < 3; i++) add(index, 'pods', [`web-5d9-${i}`, `pod-${i}`], { namespace: ns, owners: ['rs-1'] });
  for (let i = 0; i < 10; i++) add(index, 'configmaps', [`cm-${i}`, `cm-${i}`], { namespace: ns });
  add(index, 'persistentvolumeclaims', ['data', 'pvc-1'], { namespace: ns, spec: { volumeName: 'pv-data' }, status: { phase: 'Bound' } });
  add(index, 'persistentvolumes', ['pv-data', 'pv-1'], { spec: { persistentVolumeReclaimPolicy: 'Delete', claimRef: { namespace: ns, name: 'data' } } });
  add(index, 'persistentvolumes', ['pv-kept', 'pv-2'], { spec: { persistentVolumeReclaimPolicy: 'Retain', claimRef: { namespace: 'other', name: 'x' } } });
  add(index, 'configmaps', ['elsewhere', 'cm-x'], { namespace: 'other' });
  return index;
}

describe('blast radius', () => {
  it('counts everything in a namespace, and the volume its bound claim would release with reclaim Delete', () => {
    const impact = computeImpact(captured('delete-production-namespace'), capProd());
    expect(impact.byResource).toEqual({
      namespaces: 1, 'deployments.apps': 1, 'replicasets.apps': 1, pods: 3, configmaps: 10, persistentvolumeclaims: 1, persistentvolumes: 1,
    });
    expect(impact).toMatchObject({ total: 18, pods: 3, boundClaims: 1, deletedVolumes: 1 });
    expect(impact.dataBearing).toEqual(['persistentvolumeclaims cap-prod/data', 'persistentvolumes pv-data']);
    expect(describeImpact(impact)).toBe(
      '18 objects (10 configmaps, 3 pods, 1 deployments.apps, 1 namespaces, 1 persistentvolumeclaims, 1 persistentvolumes, 1 more kinds); data: 1 bound claims, 1 volumes deleted',
    );
  });

  it('follows ownerReferences from a Deployment with Background propagation, and stops at Orphan', () => {
    const background = computeImpact(captured('delete-production-deployment'), capProd());
    expect(background.byResource).toEqual({ 'deployments.apps': 1, 'replicasets.apps': 1, pods: 3 });
    const orphan = captured('orphan-delete-production-deployment');
    expect(propagationOf(orphan)).toBe('Orphan');
    expect(computeImpact(orphan, capProd())).toMatchObject({ total: 1, byResource: { 'deployments.apps': 1 }, pods: 0 });
  });

  it('keeps a dependent that another surviving owner still holds, and honours an orphan finalizer on the way', () => {
    const index = capProd();
    add(index, 'configmaps', ['shared', 'shared'], { namespace: 'cap-prod', owners: [DEPLOYMENT_UID, 'cm-0'] });
    add(index, 'secrets', ['half', 'half'], { namespace: 'cap-prod', owners: ['rs-1', 'gone-owner'] });
    add(index, 'replicasets.apps', ['keeper', 'rs-2'], { namespace: 'cap-prod', owners: [DEPLOYMENT_UID], finalizers: ['orphan'] });
    add(index, 'pods', ['kept-pod', 'pod-k'], { namespace: 'cap-prod', owners: ['rs-2'] });
    const impact = computeImpact(captured('delete-production-deployment'), index);
    // `shared` survives (cm-0 stays); `half` goes (its other owner no longer exists); rs-2 goes, its pod stays.
    expect(impact.byResource).toEqual({ 'deployments.apps': 1, 'replicasets.apps': 2, pods: 3, secrets: 1 });
  });

  it('lets an explicit propagation override the object\'s orphan finalizer, as the apiserver does', () => {
    const index = capProd();
    add(index, 'deployments.apps', ['web', DEPLOYMENT_UID], { namespace: 'cap-prod', finalizers: ['orphan'] });
    // kubectl always sends propagationPolicy Background: the finalizer is removed and the dependents go.
    expect(computeImpact(captured('delete-production-deployment'), index).total).toBe(5);
    const bare = { ...captured('delete-production-deployment'), options: null };
    bare.oldObject = { ...bare.oldObject, metadata: { ...bare.oldObject?.metadata, finalizers: ['orphan'] } };
    expect(computeImpact(bare, index).total).toBe(1);
  });

  it('walks past a dependent\'s orphan finalizer under Foreground, not under Background', () => {
    const index = capProd();
    add(index, 'replicasets.apps', ['web-5d9', 'rs-1'], { namespace: 'cap-prod', owners: [DEPLOYMENT_UID], finalizers: ['orphan'] });
    const background = captured('delete-production-deployment');
    expect(computeImpact(background, index).byResource).toEqual({ 'deployments.apps': 1, 'replicasets.apps': 1 });
    const foreground = { ...background, options: { ...background.options, propagationPolicy: 'Foreground' } };
    expect(computeImpact(foreground, index).byResource).toEqual({ 'deployments.apps': 1, 'replicasets.apps': 1, pods: 3 });
  });

  it('counts an UPDATE leaving only owners that do not exist as a delete; an existing owner changes nothing', () => {
    const index = capProd();
    const update = captured('update-production-configmap');
    const old = update.oldObject!;
    add(index, 'configmaps', [old.metadata!.name!, old.metadata!.uid!], { namespace: old.metadata!.namespace! });
    add(index, 'secrets', ['child', 'child'], { namespace: 'cap-prod', owners: [old.metadata!.uid!] });
    const pointing = (uid: string): AdmissionRequest => ({
      ...update, object: { ...update.object, metadata: { ...update.object?.metadata, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid }] } },
    });
    expect(computeImpact(pointing('no-such-owner'), index).byResource).toEqual({ configmaps: 1, secrets: 1 });
    expect(computeImpact(pointing('cm-0'), index).total).toBe(0);
  });

  it('lists data-bearing objects in a stable order, whatever order the watches delivered them in', () => {
    const a = capProd();
    const b = capProd();
    for (const [index, order] of [[a, ['x', 'y']], [b, ['y', 'x']]] as const) {
      for (const name of order) add(index, 'persistentvolumeclaims', [name, `pvc-${name}`], { namespace: 'cap-prod', status: { phase: 'Bound' } });
    }
    const request = captured('delete-production-namespace');
    expect(computeImpact(request, a).dataBearing).toEqual(computeImpact(request, b).dataBearing);
  });

  it('counts every custom resource of a deleted CRD, cluster-wide, with their dependents', () => {
    const index = new PictureIndex();
    add(index, 'customresourcedefinitions.apiextensions.k8s.io', ['databases.shop.example.com', 'ad986449-1c5e-40f0-9c54-723dbaab6742']);
    for (let i = 0; i < 30; i++) {
      add(index, 'databases.shop.example.com', [`db-${i}`, `db-${i}`], { namespace: i % 2 === 0 ? 'a' : 'b' });
      add(index, 'secrets', [`db-${i}-creds`, `s-${i}`], { namespace: i % 2 === 0 ? 'a' : 'b', owners: [`db-${i}`] });
    }
    add(index, 'widgets.shop.example.com', ['unrelated', 'w-1'], { namespace: 'a' });
    const impact = computeImpact(captured('delete-crd'), index);
    expect(impact.byResource).toEqual({ 'customresourcedefinitions.apiextensions.k8s.io': 1, 'databases.shop.example.com': 30, secrets: 30 });
  });

  it('counts the object itself when the picture does not hold it, and a directly deleted Delete volume as data', () => {
    expect(computeImpact(captured('delete-production-deployment'), new PictureIndex())).toMatchObject({ total: 1, byResource: { 'deployments.apps': 1 } });
    const index = new PictureIndex();
    const pv = captured('delete-persistentvolume');
    index.upsert(toEntry('persistentvolumes', { ...pv.oldObject, spec: { persistentVolumeReclaimPolicy: 'Delete' } })!);
    expect(computeImpact(pv, index)).toMatchObject({ total: 1, deletedVolumes: 1, dataBearing: ['persistentvolumes orders-pv'] });
  });

  it('takes a scale-down from the request alone: replicas taken away are pods that stop', () => {
    expect(computeImpact(captured('scale-production-to-zero'), undefined)).toMatchObject({ pods: 3, total: 3 });
    expect(computeImpact(captured('scale-production-3-to-2'), undefined)).toMatchObject({ pods: 1 });
    expect(computeImpact(captured('create-production-configmap'), undefined).total).toBe(0);
  });

  it('applies the kind default: core/v1 ReplicationControllers orphan, others cascade', () => {
    const rc = { ...captured('delete-production-deployment'), options: null, resource: { group: '', version: 'v1', resource: 'replicationcontrollers' } };
    expect(propagationOf(rc)).toBe('Orphan');
    expect(propagationOf({ ...rc, resource: { group: 'apps', version: 'v1', resource: 'deployments' } })).toBe('Background');
    expect(propagationOf({ ...rc, options: { orphanDependents: true } })).toBe('Orphan');
  });
});

describe('blastRadius in rules', () => {
  const judge = judgeFrom(`
rules:
  - name: big
    tier: require-approval
    match: {operations: [DELETE]}
    expression: blastRadius.total > 5 || blastRadius.boundClaims > 0
    messageExpression: "'would remove ' + blastRadius.summary"
`);

  it('gates on the count and says it, and binds the approval digest to the impact', () => {
    const request = captured('delete-production-deployment');
    const small = new PictureIndex();
    add(small, 'deployments.apps', ['web', DEPLOYMENT_UID], { namespace: 'cap-prod' });
    expect(judge.decide({ request, picture: { view: small } })).toMatchObject({ allowed: true, rule: 'default' });
    const big = capProd();
    for (let i = 0; i < 2; i++) add(big, 'pods', [`extra-${i}`, `extra-${i}`], { namespace: 'cap-prod', owners: ['rs-1'] });
    const gated = judge.decide({ request, picture: { view: big } });
    expect(gated).toMatchObject({ allowed: false, rule: 'big', impact: { total: 7 } });
    expect(gated.status?.message).toContain('would remove 7 objects (5 pods, 1 deployments.apps, 1 replicasets.apps)');
    add(big, 'pods', ['extra-2', 'extra-2'], { namespace: 'cap-prod', owners: ['rs-1'] });
    const grown = judge.decide({ request, picture: { view: big } });
    expect(gated.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(grown.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(grown.digest).not.toBe(gated.digest);
  });

  it('refuses an agent delete, saying why, when the picture is not synced; a CREATE does not need it', () => {
    const unavailable = 'cluster picture not ready: 2 resources not yet listed (pods, configmaps)';
    const d = judge.decide({ request: captured('delete-production-deployment'), picture: { view: new PictureIndex(), unavailable } });
    expect(d).toMatchObject({ allowed: false, errored: true, rule: 'impact-unavailable' });
    expect(d.status?.message).toContain(`the impact of this request could not be computed (${unavailable})`);
    const create = captured('create-production-configmap');
    expect(judge.decide({ request: create, picture: { view: new PictureIndex(), unavailable } }).allowed).toBe(true);
    expect(judge.decide({ request: captured('delete-production-deployment') })).toMatchObject({ allowed: false, rule: 'impact-unavailable' });
  });

  it('refuses to count a namespace while an API group cannot be discovered; other deletes go on', () => {
    const picture = { view: capProd(), unknownGroups: ['metrics.k8s.io'] };
    const ns = judge.decide({ request: captured('delete-production-namespace'), picture });
    expect(ns).toMatchObject({ allowed: false, rule: 'impact-unavailable' });
    expect(ns.status?.message).toContain('API groups not discoverable, so a namespace\'s contents cannot all be seen: metrics.k8s.io');
    expect(judge.decide({ request: captured('delete-production-deployment'), picture }).rule).toBe('default');
  });

  it('tells a dry run what the delete would remove', () => {
    const d = judge.decide({ request: captured('dry-run-delete-production-deployment'), picture: { view: capProd() } });
    expect(d.warnings[0]).toContain('It would remove 5 objects');
  });
});
