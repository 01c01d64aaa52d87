// Custom resources that run containers without a pod spec: workflow engines (Argo's templates[].container and
// per-template serviceAccountName, Tekton's steps[]), database operators (an imageName, an image {repository, tag}).
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { workloadAccounts } from '../../../../src/core/effects/index.js';
import { create, edited, effectsOf, update } from '../../../helpers/effects.js';

const NS = 'shop-prod';

const workflow: KubeObject = {
  apiVersion: 'argoproj.io/v1alpha1', kind: 'Workflow', metadata: { name: 'wipe', namespace: NS },
  spec: { entrypoint: 'main', templates: [{ name: 'main', serviceAccountName: 'argo-admin', container: { image: 'bitnami/kubectl:1.30', command: ['kubectl', 'delete', 'ns', 'shop-prod'] } }] },
};

const cluster = (image: string): KubeObject => ({
  apiVersion: 'postgresql.cnpg.io/v1', kind: 'Cluster', metadata: { name: 'db', namespace: NS }, spec: { instances: 3, imageName: image },
});

describe('custom workloads without a pod spec', () => {
  it('a Workflow runs its template\'s container as the template\'s ServiceAccount', () => {
    const request = create('argoproj.io/workflows', workflow);
    expect(effectsOf(request).runsCode.any).toBe(true);
    expect(workloadAccounts(request)).toEqual([{ namespace: NS, name: 'argo-admin' }]);
  });

  it('a Workflow that names its code by reference still runs as its ServiceAccount', () => {
    const byRef: KubeObject = { ...workflow, spec: { serviceAccountName: 'argo-admin', workflowTemplateRef: { name: 'cleanup' } } };
    expect(workloadAccounts(create('argoproj.io/workflows', byRef))).toEqual([{ namespace: NS, name: 'argo-admin' }]);
  });

  it('an operator\'s imageName moved to another repository runs new code; a new tag is a release', () => {
    expect(effectsOf(update('postgresql.cnpg.io/clusters', cluster('ghcr.io/cloudnative-pg/postgresql:16.1'), cluster('evil.io/pg:16'))).runsCode.any).toBe(true);
    const bump = effectsOf(update('postgresql.cnpg.io/clusters', cluster('ghcr.io/cloudnative-pg/postgresql:16.1'), cluster('ghcr.io/cloudnative-pg/postgresql:16.2')));
    expect(bump).toMatchObject({ runsCode: { any: false }, changesImage: true });
  });

  it('an image given as {repository, tag} counts too', () => {
    const chart = (repository: string): KubeObject => ({ apiVersion: 'example.com/v1', kind: 'App', metadata: { name: 'a', namespace: NS }, spec: { image: { repository, tag: '1' } } });
    expect(effectsOf(update('example.com/apps', chart('shop/web'), chart('evil/web'))).runsCode.any).toBe(true);
    expect(effectsOf(update('example.com/apps', chart('shop/web'), edited(chart('shop/web'), (c) => { (c.spec as { image: { tag: string } }).image.tag = '2'; }))).changesImage).toBe(true);
  });
});

describe('identities named under other keys', () => {
  it('a SparkApplication\'s driver runs as spec.driver.serviceAccount, a Flink deployment as spec.serviceAccount', () => {
    const spark: KubeObject = { apiVersion: 'sparkoperator.k8s.io/v1beta2', kind: 'SparkApplication', metadata: { name: 's', namespace: NS }, spec: { image: 'evil/x:1', driver: { serviceAccount: 'deployer' }, executor: { instances: 2 } } };
    expect(workloadAccounts(create('sparkoperator.k8s.io/sparkapplications', spark))).toEqual([{ namespace: NS, name: 'deployer' }]);
    const flink: KubeObject = { apiVersion: 'flink.apache.org/v1beta1', kind: 'FlinkDeployment', metadata: { name: 'f', namespace: NS }, spec: { image: 'flink:1.18', serviceAccount: 'flink-admin' } };
    expect(workloadAccounts(create('flink.apache.org/flinkdeployments', flink))).toEqual([{ namespace: NS, name: 'flink-admin' }]);
  });
});
