// One object removed for two causes in one update counts once: a finalizer dropped from an object being deleted
// completes the deletion, which takes whatever else the update did to the object with it. (Found by these tests;
// a CRD's storage version change alone is not a removal: objects are kept and converted.)
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { boundClaim, edited, effectsOf, ownedBy, pod, podSpec, update, volume } from '../../../helpers/effects.js';

type Spec = Record<string, unknown>;

describe('effects.removes: a completed deletion subsumes the rest of the update', () => {
  it('a terminating Job whose finalizer is dropped and TTL set in one update counts the Job and its pod once', () => {
    const metadata = { name: 'report', namespace: 'shop-prod', uid: 'job-r', deletionTimestamp: '2026-12-07T10:00:00Z', finalizers: ['example.com/hold'] };
    const job: KubeObject = { apiVersion: 'batch/v1', kind: 'Job', metadata, spec: { template: { spec: podSpec() } } };
    const after = edited(job, (j) => { (j.spec as Spec).ttlSecondsAfterFinished = 60; j.metadata = { ...j.metadata, finalizers: [] }; });
    const removes = effectsOf(update('batch/jobs', job, after), [job, ownedBy(pod('shop-prod', 'report-a'), 'job-r')]).removes;
    expect(removes.byResource).toEqual({ 'jobs.batch': 1, pods: 1 });
  });

  it('a terminating volume whose pv-protection finalizer is dropped and reclaim set to Delete counts the volume once', () => {
    const metadata = { name: 'pv-data', uid: 'pv-pv-data', deletionTimestamp: '2026-12-07T10:00:00Z', finalizers: ['kubernetes.io/pv-protection'] };
    const before: KubeObject = { ...volume('pv-data', 'Retain', { namespace: 'shop-prod', name: 'data' }), metadata };
    const after = edited(before, (v) => { v.metadata = { ...v.metadata, finalizers: [] }; (v.spec as Spec).persistentVolumeReclaimPolicy = 'Delete'; });
    const removes = effectsOf(update('persistentvolumes', before, after), [before, boundClaim('shop-prod', 'data', 'pv-data')]).removes;
    expect(removes.byResource).toEqual({ persistentvolumes: 1 });
    expect(removes.deletedVolumes).toBe(1);
  });
});
