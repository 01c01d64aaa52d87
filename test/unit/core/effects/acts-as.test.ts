// effects.actsAs: the ServiceAccount a created or changed workload runs as (workloadAccounts), judged with the
// rights the edge looked up: its dangerous rights, those the agent lacks, whether the identity is an agent's.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { workloadAccounts, type IdentityFacts } from '../../../../src/core/effects/index.js';
import { NO_IDENTITY } from '../../../../src/core/effects/types.js';
import { container, create, edited, effectsOf, podSpec, pod, update, workload } from '../../../helpers/effects.js';

type Spec = Record<string, unknown>;
const templateSpec = (o: KubeObject): Spec => ((o.spec as Spec).template as { spec: Spec }).spec;

const deployer = workload('Deployment', 'shop-dev/web', { replicas: 2 }, podSpec({ serviceAccountName: 'deployer' }));

function facts(namespace: string, name: string, rights: string[], agentRights: string[] = []): IdentityFacts {
  return { workloads: [{ namespace, name, rights }], agentRights };
}

describe('workloadAccounts', () => {
  it('names the ServiceAccount of a new workload, "default" when none is set', () => {
    expect(workloadAccounts(create('apps/deployments', deployer))).toEqual([{ namespace: 'shop-dev', name: 'deployer' }]);
    expect(workloadAccounts(create('pods', pod('shop-dev', 'p')))).toEqual([{ namespace: 'shop-dev', name: 'default' }]);
    expect(workloadAccounts(create('pods', pod('shop-dev', 'p', podSpec({ serviceAccount: 'legacy' }))))).toEqual([{ namespace: 'shop-dev', name: 'legacy' }]);
  });

  it('names every account of a custom resource with several pod specs, once each, sorted', () => {
    const cr: KubeObject = {
      kind: 'Pipeline', metadata: { name: 'p', namespace: 'shop-dev' },
      spec: { build: { template: { spec: podSpec({ serviceAccountName: 'builder' }) } }, deploy: { template: { spec: podSpec({ serviceAccountName: 'admin' }) } }, again: { template: { spec: podSpec({ serviceAccountName: 'builder' }) } } },
    };
    expect(workloadAccounts(create('example.com/pipelines', cr))).toEqual([{ namespace: 'shop-dev', name: 'admin' }, { namespace: 'shop-dev', name: 'builder' }]);
  });

  it('names the account of a changed template, and none for a replicas change, a ConfigMap or a Scale', () => {
    const changed = edited(deployer, (d) => { templateSpec(d).containers = [container('web', 'shop/web:1.1')]; });
    expect(workloadAccounts(update('apps/deployments', deployer, changed))).toEqual([{ namespace: 'shop-dev', name: 'deployer' }]);
    expect(workloadAccounts(update('apps/deployments', deployer, edited(deployer, (d) => { (d.spec as Spec).replicas = 5; })))).toEqual([]);
    expect(workloadAccounts(create('configmaps', { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'shop-dev' } }))).toEqual([]);
    const scale = update('apps/deployments', { kind: 'Scale', metadata: { name: 'web', namespace: 'shop-dev' }, spec: { replicas: 1 } }, { kind: 'Scale', metadata: { name: 'web', namespace: 'shop-dev' }, spec: { replicas: 4 } }, 'scale');
    expect(workloadAccounts(scale)).toEqual([]);
  });
});

describe('effects.actsAs', () => {
  it('names the identity, its rights, and the rights the agent lacks (gains)', () => {
    const actsAs = effectsOf(create('apps/deployments', deployer), [], facts('shop-dev', 'deployer', ['get secrets', 'create pods'], ['create pods'])).actsAs;
    expect(actsAs).toEqual({ any: true, identity: 'system:serviceaccount:shop-dev:deployer', isAgent: false, rights: ['create pods', 'get secrets'], gains: ['get secrets'], clusterRights: [] });
  });

  it('names the rights that reach beyond the namespace (cluster-scoped ones) apart', () => {
    const actsAs = effectsOf(create('apps/deployments', deployer), [], facts('shop-dev', 'deployer', ['get secrets', 'delete namespaces', 'impersonate users'], [])).actsAs;
    expect(actsAs.clusterRights).toEqual(['delete namespaces', 'impersonate users']);
  });

  it('gains nothing when the agent holds the same rights; a rightless identity has neither', () => {
    expect(effectsOf(create('apps/deployments', deployer), [], facts('shop-dev', 'deployer', ['get secrets'], ['get secrets', 'create pods'])).actsAs)
      .toMatchObject({ any: true, isAgent: false, rights: ['get secrets'], gains: [] });
    expect(effectsOf(create('apps/deployments', deployer), [], facts('shop-dev', 'deployer', [])).actsAs)
      .toEqual({ any: true, identity: 'system:serviceaccount:shop-dev:deployer', isAgent: false, rights: [], gains: [], clusterRights: [] });
  });

  it('recognises an agent\'s ServiceAccount by the policy\'s agent matcher (agents/*), and no other', () => {
    const inAgents = workload('Deployment', 'agents/helper', {}, podSpec({ serviceAccountName: 'coder' }));
    expect(effectsOf(create('apps/deployments', inAgents), [], facts('agents', 'coder', ['get secrets'], ['get secrets'])).actsAs)
      .toMatchObject({ any: true, identity: 'system:serviceaccount:agents:coder', isAgent: true });
    // A ServiceAccount named like an agent elsewhere is not one.
    const lookalike = workload('Deployment', 'shop-dev/helper', {}, podSpec({ serviceAccountName: 'coder' }));
    expect(effectsOf(create('apps/deployments', lookalike), [], facts('shop-dev', 'coder', [])).actsAs).toMatchObject({ any: true, isAgent: false });
  });

  it('picks the identity that gains most over the agent, a non-agent before an agent', () => {
    const several: IdentityFacts = {
      workloads: [
        { namespace: 'shop-dev', name: 'a', rights: ['get secrets'] },
        { namespace: 'shop-dev', name: 'b', rights: ['get secrets', 'delete namespaces', 'create pods'] },
        { namespace: 'shop-dev', name: 'c', rights: ['create pods'] },
      ],
      agentRights: ['create pods'],
    };
    expect(effectsOf(create('pods', pod('shop-dev', 'p')), [], several).actsAs)
      .toMatchObject({ identity: 'system:serviceaccount:shop-dev:b', gains: ['delete namespaces', 'get secrets'] });
  });

  it('is NO_IDENTITY without identity facts or with no workload accounts', () => {
    expect(effectsOf(create('apps/deployments', deployer)).actsAs).toEqual(NO_IDENTITY);
    expect(effectsOf(create('apps/deployments', deployer), [], { workloads: [], agentRights: ['get secrets'] }).actsAs).toEqual(NO_IDENTITY);
  });

  it('says who the workload runs as in the summary, with what it gains', () => {
    const { summary } = effectsOf(create('apps/deployments', deployer), [], facts('shop-dev', 'deployer', ['get secrets']));
    expect(summary).toBe('runs code; runs as system:serviceaccount:shop-dev:deployer (gaining get secrets)');
  });
});
