// effects.stopsPods and effects.restartsPods: replicas taken away by any path, Jobs suspended or cut short, an
// autoscaler bounded below what runs, Nodes tainted or relabelled, evictions; and rollouts by controller kind.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { NO_PODS } from '../../../../src/core/effects/types.js';
import { admission, container, create, edited, effectsOf, podSpec, pod, update, workload } from '../../../helpers/effects.js';

const NS = 'shop-prod';

type Spec = Record<string, unknown>;
const spec = (o: KubeObject): Spec => o.spec as Spec;
const templateSpec = (o: KubeObject): Spec => (spec(o).template as { spec: Spec }).spec;

/** The same workload with the web container's env changed: a template change, not new code. */
function withEnv(o: KubeObject): KubeObject {
  return edited(o, (c) => { templateSpec(c).containers = [container('web', 'shop/web:1.0', { env: [{ name: 'LOG', value: 'debug' }] })]; });
}

describe('effects.stopsPods', () => {
  it('counts replicas removed from a Deployment, and nothing for a scale-up', () => {
    const web = workload('Deployment', `${NS}/web`, { replicas: 10 });
    const stops = effectsOf(update('apps/deployments', web, edited(web, (d) => { spec(d).replicas = 3; }))).stopsPods;
    expect(stops).toEqual({ count: 7, unbounded: false, causes: [`scales deployments ${NS}/web from 10 to 3 replicas`] });
    expect(effectsOf(update('apps/deployments', web, edited(web, (d) => { spec(d).replicas = 12; }))).stopsPods).toEqual(NO_PODS);
  });

  it('counts replicas removed through the scale subresource (a Scale omits replicas: 0)', () => {
    const scale = update('apps/deployments', { kind: 'Scale', metadata: { name: 'web', namespace: NS }, spec: { replicas: 4 } },
      { kind: 'Scale', metadata: { name: 'web', namespace: NS }, spec: {} }, 'scale');
    expect(effectsOf(scale).stopsPods).toMatchObject({ count: 4, unbounded: false });
  });

  function job(more: Spec): KubeObject {
    return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'etl', namespace: NS, uid: 'job-etl' }, spec: { parallelism: 3, template: { spec: podSpec({ restartPolicy: 'Never' }) }, ...more } };
  }

  it('counts a Job\'s parallelism when it is suspended, nothing when it already was or is resumed', () => {
    expect(effectsOf(update('batch/jobs', job({ suspend: false }), job({ suspend: true }))).stopsPods)
      .toEqual({ count: 3, unbounded: false, causes: [`suspends jobs ${NS}/etl (its running pods are deleted)`] });
    expect(effectsOf(update('batch/jobs', job({}), job({ suspend: true }))).stopsPods.count).toBe(3);
    expect(effectsOf(update('batch/jobs', job({ suspend: true }), job({ suspend: true, completions: 4 }))).stopsPods).toEqual(NO_PODS);
    expect(effectsOf(update('batch/jobs', job({ suspend: true }), job({ suspend: false }))).stopsPods).toEqual(NO_PODS);
  });

  it('counts a Job whose activeDeadlineSeconds is set or lowered, not raised', () => {
    expect(effectsOf(update('batch/jobs', job({ activeDeadlineSeconds: 600 }), job({ activeDeadlineSeconds: 60 }))).stopsPods.count).toBe(3);
    expect(effectsOf(update('batch/jobs', job({}), job({ activeDeadlineSeconds: 60 }))).stopsPods.count).toBe(3);
    expect(effectsOf(update('batch/jobs', job({ activeDeadlineSeconds: 60 }), job({ activeDeadlineSeconds: 600 }))).stopsPods).toEqual(NO_PODS);
  });

  it('counts a Pod given a deadline, not one relabelled', () => {
    const p = pod(NS, 'web-1');
    expect(effectsOf(update('pods', p, edited(p, (o) => { spec(o).activeDeadlineSeconds = 30; }))).stopsPods)
      .toEqual({ count: 1, unbounded: false, causes: [`sets a deadline on pod ${NS}/web-1`] });
    expect(effectsOf(update('pods', p, edited(p, (o) => { o.metadata = { ...o.metadata, labels: { a: 'b' } }; }))).stopsPods).toEqual(NO_PODS);
  });

  function hpa(max: number, current?: number, target = 'web'): KubeObject {
    return {
      apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: NS, uid: 'hpa-web' },
      spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: target }, minReplicas: 2, maxReplicas: max },
      ...(current === undefined ? {} : { status: { currentReplicas: current } }),
    };
  }

  it('counts the replicas above an HPA\'s lowered maximum (max 10 -> 4 with 8 running stops 4)', () => {
    expect(effectsOf(update('autoscaling/horizontalpodautoscalers', hpa(10, 8), hpa(4, 8))).stopsPods)
      .toEqual({ count: 4, unbounded: false, causes: [`lowers the maximum of horizontalpodautoscalers ${NS}/web to 4 below its 8 replicas`] });
    // Lowered, but not below what runs: nothing stops.
    expect(effectsOf(update('autoscaling/horizontalpodautoscalers', hpa(10, 8), hpa(9, 8))).stopsPods).toEqual(NO_PODS);
    // Without a status the request cannot bound it.
    expect(effectsOf(update('autoscaling/horizontalpodautoscalers', hpa(10), hpa(4))).stopsPods).toMatchObject({ count: 0, unbounded: true });
  });

  it('treats a new HPA, or one pointed at another workload, as unbounded', () => {
    expect(effectsOf(create('autoscaling/horizontalpodautoscalers', hpa(4))).stopsPods).toMatchObject({ unbounded: true });
    expect(effectsOf(update('autoscaling/horizontalpodautoscalers', hpa(10, 8), hpa(10, 8, 'api'))).stopsPods)
      .toMatchObject({ unbounded: true, causes: [`points horizontalpodautoscalers ${NS}/web at another workload`] });
  });

  function node(taints: { key: string; value?: string; effect: string }[], labels: Record<string, string> = { zone: 'a' }): KubeObject {
    return { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', uid: 'node-1', labels }, spec: { taints } };
  }

  it('treats a NoExecute taint added to a Node as unbounded; NoSchedule, or a NoExecute it already had, stops nothing', () => {
    const clean = node([]);
    expect(effectsOf(update('nodes', clean, node([{ key: 'maintenance', value: 'now', effect: 'NoExecute' }]))).stopsPods)
      .toEqual({ count: 0, unbounded: true, causes: ['taints node node-1 NoExecute (maintenance=now): its pods are evicted'] });
    expect(effectsOf(update('nodes', clean, node([{ key: 'maintenance', value: 'now', effect: 'NoSchedule' }]))).stopsPods).toEqual(NO_PODS);
    const tainted = node([{ key: 'gpu', effect: 'NoExecute' }]);
    expect(effectsOf(update('nodes', tainted, edited(tainted, (n) => { spec(n).unschedulable = true; }))).stopsPods).toEqual(NO_PODS);
  });

  it('treats a relabelled Node as unbounded (DaemonSets select on labels)', () => {
    expect(effectsOf(update('nodes', node([]), node([], { zone: 'b' }))).stopsPods).toMatchObject({ unbounded: true });
  });

  it('counts one pod for an eviction', () => {
    const eviction = create('pods', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'web-1', namespace: NS } }, 'eviction');
    expect(effectsOf(eviction).stopsPods).toEqual({ count: 1, unbounded: false, causes: [`evicts pod ${NS}/web-1`] });
  });

  it('stops nothing for a ConfigMap change', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: NS, uid: 'c' }, data: { a: '1' } };
    expect(effectsOf(update('configmaps', cm, { ...cm, data: { a: '2' } })).stopsPods).toEqual(NO_PODS);
  });
});

describe('effects.restartsPods', () => {
  it('counts a Deployment\'s replicas when its pod template changes', () => {
    const web = workload('Deployment', `${NS}/web`, { replicas: 12 });
    expect(effectsOf(update('apps/deployments', web, withEnv(web))).restartsPods)
      .toEqual({ count: 12, unbounded: false, causes: [`rolls out a new pod template for deployments ${NS}/web (12 pods replaced)`] });
  });

  it('counts a Deployment\'s replicas for a rollout restart (a template annotation) and a template label change', () => {
    const web = workload('Deployment', `${NS}/web`, { replicas: 12 });
    const template = (d: KubeObject): Spec => (spec(d).template as { metadata: Spec }).metadata;
    const restarted = edited(web, (d) => { template(d).annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-12-07T14:00:00Z' }; });
    expect(effectsOf(update('apps/deployments', web, restarted)).restartsPods).toMatchObject({ count: 12, unbounded: false });
    const relabelled = edited(web, (d) => { template(d).labels = { app: 'web', track: 'canary' }; });
    expect(effectsOf(update('apps/deployments', web, relabelled)).restartsPods).toMatchObject({ count: 12, unbounded: false });
  });

  it('counts nothing when only replicas or labels change', () => {
    const web = workload('Deployment', `${NS}/web`, { replicas: 12 });
    expect(effectsOf(update('apps/deployments', web, edited(web, (d) => { spec(d).replicas = 14; }))).restartsPods).toEqual(NO_PODS);
    expect(effectsOf(update('apps/deployments', web, edited(web, (d) => { d.metadata = { ...d.metadata, labels: { a: 'b' } }; }))).restartsPods).toEqual(NO_PODS);
  });

  it('counts 0 for a ReplicaSet template change (only new pods get it)', () => {
    const rs = workload('ReplicaSet', `${NS}/web-5d9`, { replicas: 12 });
    expect(effectsOf(update('apps/replicasets', rs, withEnv(rs))).restartsPods).toEqual(NO_PODS);
  });

  it('counts a StatefulSet\'s replicas under RollingUpdate and 0 under OnDelete', () => {
    const rolling = workload('StatefulSet', `${NS}/db`, { replicas: 3, updateStrategy: { type: 'RollingUpdate' } });
    expect(effectsOf(update('apps/statefulsets', rolling, withEnv(rolling))).restartsPods).toMatchObject({ count: 3, unbounded: false });
    const onDelete = workload('StatefulSet', `${NS}/db`, { replicas: 3, updateStrategy: { type: 'OnDelete' } });
    expect(effectsOf(update('apps/statefulsets', onDelete, withEnv(onDelete))).restartsPods).toEqual(NO_PODS);
  });

  it('counts a DaemonSet\'s desiredNumberScheduled, and is unbounded without a status', () => {
    const ds = { ...workload('DaemonSet', `${NS}/agent`), status: { desiredNumberScheduled: 7 } };
    expect(effectsOf(update('apps/daemonsets', ds, withEnv(ds))).restartsPods).toMatchObject({ count: 7, unbounded: false });
    const bare = workload('DaemonSet', `${NS}/agent`);
    expect(effectsOf(update('apps/daemonsets', bare, withEnv(bare))).restartsPods).toMatchObject({ count: 0, unbounded: true });
  });

  it('counts a custom workload\'s replicas when its spec.template.spec changes', () => {
    const cr = { apiVersion: 'example.com/v1', kind: 'Runner', metadata: { name: 'r', namespace: NS, uid: 'cr-r' }, spec: { replicas: 5, template: { spec: podSpec() } } };
    expect(effectsOf(update('example.com/runners', cr, withEnv(cr))).restartsPods).toMatchObject({ count: 5, unbounded: false });
  });

  it('counts a ReplicationController\'s replicas when its selector changes, nothing when only its replicas do', () => {
    const rc = (selector: Record<string, string>, replicas: number): KubeObject => ({
      apiVersion: 'v1', kind: 'ReplicationController', metadata: { name: 'legacy', namespace: NS, uid: 'rc-legacy' },
      spec: { replicas, selector, template: { metadata: { labels: { app: 'legacy', v: '1' } }, spec: podSpec() } },
    });
    expect(effectsOf(update('replicationcontrollers', rc({ app: 'legacy' }, 4), rc({ app: 'legacy', v: '1' }, 4))).restartsPods)
      .toEqual({ count: 4, unbounded: false, causes: [`changes the selector of replicationcontrollers ${NS}/legacy: its pods are orphaned and replaced`] });
    expect(effectsOf(update('replicationcontrollers', rc({ app: 'legacy' }, 4), rc({ app: 'legacy' }, 6))).restartsPods).toEqual(NO_PODS);
  });

  it('counts one pod for pods/resize', () => {
    const p = pod(NS, 'web-1');
    expect(effectsOf(admission({ operation: 'UPDATE', resource: 'pods', subResource: 'resize', namespace: NS, name: 'web-1', object: p, oldObject: p })).restartsPods)
      .toMatchObject({ count: 1, unbounded: false });
  });
});
