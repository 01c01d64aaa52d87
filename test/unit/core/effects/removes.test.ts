// effects.removes: what controllers remove because of an UPDATE (claim retention, reclaim policy, claimRef, Job TTL,
// CronJob history, CRD versions, finalizers of an object being deleted), each with a near miss that removes nothing.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { computeEffects } from '../../../../src/core/effects/index.js';
import { NO_IMPACT } from '../../../../src/core/impact.js';
import {
  admission, boundClaim, configMap, edited, effectsOf, ownedBy, pod, setClaims, update, volume, workload,
} from '../../../helpers/effects.js';

const NS = 'shop-prod';

function statefulSet(replicas: number, retention: { whenScaled?: string; whenDeleted?: string } = {}, extra: Record<string, unknown> = {}): KubeObject {
  return workload('StatefulSet', `${NS}/db`, {
    replicas, serviceName: 'db', volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '1Gi' } } } }],
    ...(Object.keys(retention).length === 0 ? {} : { persistentVolumeClaimRetentionPolicy: retention }), ...extra,
  });
}

/** Claims data-db-0..3 and their Delete volumes, plus look-alikes that are not the set's. */
const DB_CLAIMS = [
  ...setClaims(NS, 'data', 'db', 4),
  boundClaim(NS, 'data-other-2', 'pv-other-2'), boundClaim('shop-dev', 'data-db-3', 'pv-dev-3'), boundClaim(NS, 'logs-db-3', 'pv-logs-3'),
];

function scaled(from: number, to: number, retention: { whenScaled?: string; whenDeleted?: string }): ReturnType<typeof update> {
  return update('apps/statefulsets', statefulSet(from, retention), edited(statefulSet(from, retention), (s) => { (s.spec as { replicas: number }).replicas = to; }));
}

describe('effects.removes: StatefulSet claim retention', () => {
  it('counts the claims of the removed ordinals when whenScaled is Delete (4 -> 2: data-db-2, data-db-3)', () => {
    const removes = effectsOf(scaled(4, 2, { whenScaled: 'Delete' }), DB_CLAIMS).removes;
    expect(removes.byResource).toEqual({ persistentvolumeclaims: 2, persistentvolumes: 2 });
    expect(removes).toMatchObject({ total: 4, boundClaims: 2, deletedVolumes: 2 });
    expect(removes.dataBearing).toEqual(expect.arrayContaining([`persistentvolumeclaims ${NS}/data-db-2`, `persistentvolumeclaims ${NS}/data-db-3`]));
    expect(removes.dataBearing.join(' ')).not.toMatch(/data-db-[01]|data-other|logs-db/);
    expect(removes.causes).toEqual(['scaling down deletes claims data-db-2, data-db-3 (retention policy whenScaled: Delete)']);
  });

  it('counts nothing for the same scale-down with whenScaled Retain, set or defaulted, or for a scale-up', () => {
    for (const retention of [{ whenScaled: 'Retain' }, {}, { whenDeleted: 'Retain' }]) {
      expect(effectsOf(scaled(4, 2, retention), DB_CLAIMS).removes).toEqual({ ...NO_IMPACT, causes: [] });
    }
    expect(effectsOf(scaled(2, 4, { whenScaled: 'Delete' }), DB_CLAIMS).removes.total).toBe(0);
  });

  it('judges a Scale by the StatefulSet the picture holds: Delete counts the claims, Retain nothing', () => {
    const scale = update('apps/statefulsets', { kind: 'Scale', metadata: { name: 'db', namespace: NS }, spec: { replicas: 4 } },
      { kind: 'Scale', metadata: { name: 'db', namespace: NS }, spec: { replicas: 2 } }, 'scale');
    const withDelete = effectsOf(scale, [...DB_CLAIMS, statefulSet(4, { whenScaled: 'Delete' })]).removes;
    expect(withDelete.byResource).toEqual({ persistentvolumeclaims: 2, persistentvolumes: 2 });
    expect(withDelete.causes).toEqual(['scaling down deletes claims data-db-2, data-db-3 (retention policy whenScaled: Delete)']);
    expect(effectsOf(scale, [...DB_CLAIMS, statefulSet(4, { whenScaled: 'Retain' })]).removes.total).toBe(0);
    expect(effectsOf(scale, [...DB_CLAIMS, statefulSet(4)]).removes.total).toBe(0);
  });

  it('reads a Scale without replicas as a scale to 0: every claim goes', () => {
    const scale = update('apps/statefulsets', { kind: 'Scale', metadata: { name: 'db', namespace: NS }, spec: { replicas: 4 } },
      { kind: 'Scale', metadata: { name: 'db', namespace: NS }, spec: {} }, 'scale');
    expect(effectsOf(scale, [...DB_CLAIMS, statefulSet(4, { whenScaled: 'Delete' })]).removes.byResource).toEqual({ persistentvolumeclaims: 4, persistentvolumes: 4 });
  });

  it('counts the claims earlier scale-downs left behind when whenScaled becomes Delete', () => {
    const before = statefulSet(2, { whenScaled: 'Retain' });
    const after = statefulSet(2, { whenScaled: 'Delete' });
    const removes = effectsOf(update('apps/statefulsets', before, after), DB_CLAIMS).removes;
    expect(removes.byResource).toEqual({ persistentvolumeclaims: 2, persistentvolumes: 2 });
    expect(removes.causes).toEqual(['sets whenScaled: Delete, so every scale-down deletes its claims']);
    // Already Delete: nothing changes.
    expect(effectsOf(update('apps/statefulsets', after, edited(after, (s) => { s.metadata = { ...s.metadata, labels: { tier: 'db' } }; })), DB_CLAIMS).removes.total).toBe(0);
  });

  it('counts a claim once when one update both sets whenScaled: Delete and scales 4 -> 2', () => {
    const removes = effectsOf(update('apps/statefulsets', statefulSet(4, { whenScaled: 'Retain' }), statefulSet(2, { whenScaled: 'Delete' })), DB_CLAIMS).removes;
    expect(removes.byResource).toEqual({ persistentvolumeclaims: 2, persistentvolumes: 2 });
    expect(removes).toMatchObject({ total: 4, boundClaims: 2, deletedVolumes: 2 });
    expect(removes.causes).toEqual([
      'scaling down deletes claims data-db-2, data-db-3 (retention policy whenScaled: Delete)', 'sets whenScaled: Delete, so every scale-down deletes its claims',
    ]);
  });

  it('counts each claim once when whenScaled and whenDeleted both become Delete', () => {
    const both = { whenScaled: 'Delete', whenDeleted: 'Delete' };
    const removes = effectsOf(update('apps/statefulsets', statefulSet(2, { whenScaled: 'Retain', whenDeleted: 'Retain' }), statefulSet(2, both)), DB_CLAIMS).removes;
    expect(removes.byResource).toEqual({ persistentvolumeclaims: 4, persistentvolumes: 4 });
    expect(removes.causes).toHaveLength(2);
  });

  it('counts every claim of the set when whenDeleted becomes Delete, and nothing when it stays Retain', () => {
    const removes = effectsOf(update('apps/statefulsets', statefulSet(4), statefulSet(4, { whenDeleted: 'Delete' })), DB_CLAIMS).removes;
    expect(removes.byResource).toEqual({ persistentvolumeclaims: 4, persistentvolumes: 4 });
    expect(removes.causes).toEqual(['sets whenDeleted: Delete, so deleting the StatefulSet deletes its claims']);
    expect(effectsOf(update('apps/statefulsets', statefulSet(4), statefulSet(4, { whenDeleted: 'Retain' })), DB_CLAIMS).removes.total).toBe(0);
  });
});

describe('effects.removes: PersistentVolume reclaim policy and claimRef', () => {
  const claim = { namespace: NS, name: 'data' };
  const pictured = [volume('pv-data', 'Retain', claim), boundClaim(NS, 'data', 'pv-data')];

  it('counts the volume when its reclaim policy goes from Retain to Delete or Recycle', () => {
    for (const policy of ['Delete', 'Recycle']) {
      const after = edited(volume('pv-data', 'Retain', claim), (v) => { (v.spec as Record<string, unknown>).persistentVolumeReclaimPolicy = policy; });
      const removes = effectsOf(update('persistentvolumes', volume('pv-data', 'Retain', claim), after), pictured).removes;
      expect(removes).toMatchObject({ total: 1, byResource: { persistentvolumes: 1 }, deletedVolumes: 1, boundClaims: 0 });
      expect(removes.causes).toEqual([`reclaim policy ${policy}: volume pv-data's data is destroyed when its claim goes`]);
    }
  });

  it('counts nothing for Delete -> Retain, or for a label change of a Retain volume', () => {
    expect(effectsOf(update('persistentvolumes', volume('pv-data', 'Delete', claim), volume('pv-data', 'Retain', claim)), pictured).removes.total).toBe(0);
    const labelled = edited(volume('pv-data', 'Retain', claim), (v) => { v.metadata = { ...v.metadata, labels: { a: 'b' } }; });
    expect(effectsOf(update('persistentvolumes', volume('pv-data', 'Retain', claim), labelled), pictured).removes).toEqual({ ...NO_IMPACT, causes: [] });
  });

  it('counts the bound claim when a Retain volume\'s claimRef is removed or pointed elsewhere', () => {
    for (const after of [volume('pv-data', 'Retain'), volume('pv-data', 'Retain', { namespace: NS, name: 'other' })]) {
      const removes = effectsOf(update('persistentvolumes', volume('pv-data', 'Retain', claim), after), pictured).removes;
      expect(removes).toMatchObject({ total: 1, byResource: { persistentvolumeclaims: 1 }, boundClaims: 1, deletedVolumes: 0 });
      expect(removes.dataBearing).toEqual([`persistentvolumeclaims ${NS}/data`]);
      expect(removes.causes).toEqual([`changes the claim of volume pv-data: claim ${NS}/data loses its data`]);
    }
  });

  it('counts the volume once when it is set to Delete and released from its claim in one update', () => {
    const removes = effectsOf(update('persistentvolumes', volume('pv-data', 'Retain', claim), volume('pv-data', 'Delete')), pictured).removes;
    expect(removes).toMatchObject({ total: 2, byResource: { persistentvolumeclaims: 1, persistentvolumes: 1 }, boundClaims: 1, deletedVolumes: 1 });
    expect(removes.causes).toEqual([
      'reclaim policy Delete: volume pv-data\'s data is destroyed when its claim goes',
      `changes the claim of volume pv-data: claim ${NS}/data loses its data and the released volume is reclaimed`,
    ]);
  });

  it('counts nothing when the claimRef stays, or is set on a volume that had none', () => {
    expect(effectsOf(update('persistentvolumes', volume('pv-data', 'Retain', claim), volume('pv-data', 'Retain', claim)), pictured).removes.total).toBe(0);
    expect(effectsOf(update('persistentvolumes', volume('pv-free', 'Retain'), volume('pv-free', 'Retain', claim)), pictured).removes.total).toBe(0);
  });
});

describe('effects.removes: finalizers removed', () => {
  const deleting = { deletionTimestamp: '2026-12-07T10:00:00Z', finalizers: ['example.com/keep'] };
  const parent = configMap(NS, 'parent', {}, deleting);
  const pictured = [parent, ownedBy(configMap(NS, 'child-a'), 'cm-parent'), ownedBy(pod(NS, 'child-b'), 'cm-parent')];

  it('counts the cascade of an object being deleted once its last finalizer is removed', () => {
    const after = edited(parent, (o) => { o.metadata = { ...o.metadata, finalizers: [] }; });
    const removes = effectsOf(update('configmaps', parent, after), pictured).removes;
    expect(removes.byResource).toEqual({ configmaps: 2, pods: 1 });
    expect(removes.total).toBe(3);
    expect(removes.causes).toEqual([`removes finalizer example.com/keep from configmaps ${NS}/parent, which is being deleted: the deletion completes`]);
  });

  it('counts nothing when the object is not being deleted, or when its finalizers stay', () => {
    const alive = configMap(NS, 'parent', {}, { finalizers: ['example.com/keep'] });
    const aliveAfter = edited(alive, (o) => { o.metadata = { ...o.metadata, finalizers: [] }; });
    expect(effectsOf(update('configmaps', alive, aliveAfter), [alive, ...pictured.slice(1)]).removes).toEqual({ ...NO_IMPACT, causes: [] });
    const relabelled = edited(parent, (o) => { o.metadata = { ...o.metadata, labels: { a: 'b' } }; });
    expect(effectsOf(update('configmaps', parent, relabelled), pictured).removes.total).toBe(0);
  });

  it('counts a terminating namespace\'s contents when namespaces/finalize drops spec.finalizers', () => {
    const terminating = { name: 'gone-prod', uid: 'ns-gone', deletionTimestamp: '2026-12-07T10:00:00Z' };
    const ns: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: terminating, spec: { finalizers: ['kubernetes'] } };
    const contents = [ns, configMap('gone-prod', 'a'), configMap('gone-prod', 'b'), pod('gone-prod', 'p')];
    const request = update('namespaces', ns, edited(ns, (n) => { n.spec = { finalizers: [] }; }), 'finalize');
    const removes = effectsOf(request, contents).removes;
    expect(removes.byResource).toEqual({ namespaces: 1, configmaps: 2, pods: 1 });
    expect(removes.causes).toEqual(['removes finalizer kubernetes from namespaces gone-prod, which is being deleted: the deletion completes']);
    const active = edited(ns, (n) => { n.metadata = { name: 'gone-prod', uid: 'ns-gone' }; });
    expect(effectsOf(update('namespaces', active, edited(active, (n) => { n.spec = { finalizers: [] }; }), 'finalize'), contents).removes.total).toBe(0);
  });
});

describe('effects.removes: Job TTL and CronJob history', () => {
  function job(name: string, ttl?: number, owner?: string): KubeObject {
    const object: KubeObject = {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: NS, uid: `job-${name}` },
      spec: { ...(ttl === undefined ? {} : { ttlSecondsAfterFinished: ttl }), template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: 'shop/batch:1' }] } } },
    };
    return owner === undefined ? object : ownedBy(object, owner);
  }
  const jobPods = [ownedBy(pod(NS, 'report-a'), 'job-report'), ownedBy(pod(NS, 'report-b'), 'job-report')];

  it('counts the Job and its pods when a TTL is set or lowered', () => {
    for (const [before, after] of [[undefined, 100], [600, 60], [60, 0]] as const) {
      const removes = effectsOf(update('batch/jobs', job('report', before), job('report', after)), [job('report', before), ...jobPods]).removes;
      expect(removes.byResource).toEqual({ 'jobs.batch': 1, pods: 2 });
      expect(removes.causes).toEqual([`ttlSecondsAfterFinished ${String(after)}: the TTL controller deletes job ${NS}/report and its pods once finished`]);
    }
  });

  it('counts the Job itself when the picture does not hold it yet', () => {
    expect(effectsOf(update('batch/jobs', job('report'), job('report', 30)), []).removes).toMatchObject({ total: 1, byResource: { 'jobs.batch': 1 } });
  });

  it('counts nothing when the TTL is raised, kept, or removed', () => {
    for (const [before, after] of [[60, 600], [60, 60], [60, undefined], [undefined, undefined]] as const) {
      expect(effectsOf(update('batch/jobs', job('report', before), job('report', after)), [job('report', before), ...jobPods]).removes.total).toBe(0);
    }
  });

  function cronJob(successful?: number, failed?: number): KubeObject {
    return {
      apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: NS, uid: 'cron-nightly' },
      spec: {
        schedule: '0 1 * * *', ...(successful === undefined ? {} : { successfulJobsHistoryLimit: successful }), ...(failed === undefined ? {} : { failedJobsHistoryLimit: failed }),
        jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: 'shop/batch:1' }] } } } },
      },
    };
  }
  // Four finished Jobs (the defaults keep 3 + 1), named by schedule time as the CronJob controller names them.
  const history = ['29001', '29002', '29003', '29004'].flatMap((t) => [job(`nightly-${t}`, undefined, 'cron-nightly'), ownedBy(pod(NS, `nightly-${t}-x`), `job-nightly-${t}`)]);

  it('counts the oldest owned Jobs and their pods when the history is lowered (3+1 -> 1+1 deletes 2 of 4)', () => {
    const removes = effectsOf(update('batch/cronjobs', cronJob(), cronJob(1)), [cronJob(), ...history]).removes;
    expect(removes.byResource).toEqual({ 'jobs.batch': 2, pods: 2 });
    expect(removes.causes).toEqual([`lowers the job history of cronjob ${NS}/nightly to 2: 2 of its 4 jobs are deleted`]);
  });

  it('counts nothing when the history is raised, or lowered to no fewer than the Jobs it owns', () => {
    expect(effectsOf(update('batch/cronjobs', cronJob(1, 1), cronJob(5, 1)), [cronJob(), ...history]).removes.total).toBe(0);
    expect(effectsOf(update('batch/cronjobs', cronJob(), cronJob(2, 1)), [cronJob(), ...history.slice(0, 6)]).removes.total).toBe(0);
  });
});

describe('effects.removes: CRD versions', () => {
  function crd(versions: { name: string; served: boolean; storage: boolean }[]): KubeObject {
    return {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.example.com', uid: 'crd-widgets' },
      spec: { group: 'example.com', names: { plural: 'widgets', kind: 'Widget' }, scope: 'Namespaced', versions },
    };
  }
  const both = crd([{ name: 'v1', served: true, storage: false }, { name: 'v2', served: true, storage: true }]);
  const widgets = [0, 1, 2].map((i): KubeObject => ({ apiVersion: 'example.com/v2', kind: 'Widget', metadata: { name: `w${String(i)}`, namespace: NS, uid: `w-${String(i)}` } }));

  it('counts the custom resources when a version is unserved or dropped', () => {
    for (const after of [crd([{ name: 'v1', served: false, storage: false }, { name: 'v2', served: true, storage: true }]), crd([{ name: 'v2', served: true, storage: true }])]) {
      const removes = effectsOf(update('apiextensions.k8s.io/customresourcedefinitions', both, after), [both, ...widgets]).removes;
      expect(removes.byResource).toEqual({ 'widgets.example.com': 3 });
      expect(removes.causes).toEqual(['stops serving widgets.example.com version v1: clients of it lose 3 objects']);
    }
  });

  it('counts the CRD itself when no object of it exists, and nothing when a version is added', () => {
    const after = crd([{ name: 'v1', served: false, storage: false }, { name: 'v2', served: true, storage: true }]);
    expect(effectsOf(update('apiextensions.k8s.io/customresourcedefinitions', both, after), [both]).removes.byResource)
      .toEqual({ 'customresourcedefinitions.apiextensions.k8s.io': 1 });
    const added = crd([{ name: 'v1', served: true, storage: false }, { name: 'v2', served: true, storage: true }, { name: 'v3', served: true, storage: false }]);
    expect(effectsOf(update('apiextensions.k8s.io/customresourcedefinitions', both, added), [both, ...widgets]).removes.total).toBe(0);
  });
});

describe('effects.removes: cascades', () => {
  it('is a DELETE\'s cascade, with its count as the first cause', () => {
    const parent = configMap(NS, 'parent');
    const request = admission({ operation: 'DELETE', resource: 'configmaps', namespace: NS, name: 'parent', oldObject: parent });
    const removes = effectsOf(request, [parent, ownedBy(configMap(NS, 'child'), 'cm-parent')]).removes;
    expect(removes).toMatchObject({ total: 2, byResource: { configmaps: 2 } });
    expect(removes.causes).toEqual(['deletes 2 objects']);
  });

  it('includes what ownerReferences pointed at a missing owner make the garbage collector delete', () => {
    const cm = configMap(NS, 'settings');
    const dangling = update('configmaps', cm, ownedBy(cm, 'no-such-owner'));
    expect(effectsOf(dangling, [cm, ownedBy(configMap(NS, 'child'), 'cm-settings')]).removes.byResource).toEqual({ configmaps: 2 });
    const owner = configMap(NS, 'owner');
    expect(effectsOf(update('configmaps', cm, ownedBy(cm, 'cm-owner')), [cm, owner]).removes.total).toBe(0);
  });

  it('refuses to guess without the picture when the removals need it', () => {
    const request = scaled(4, 2, { whenScaled: 'Delete' });
    expect(() => computeEffects(request, { cascade: NO_IMPACT, view: undefined, countersignNamespace: 'countersign', isAgent: () => true }))
      .toThrow('needs the cluster picture');
  });
});
