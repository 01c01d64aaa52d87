// The identities behind effects.actsAs at the edge (handleReview): it asks the rights of the agent and of the
// workload's ServiceAccount, only when the request starts or changes a workload; a failure to ask refuses the agent
// (identity-unavailable, counted as a fail-closed refusal) unless a denial decides first.
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import type { Judge } from '../../../../src/core/decide.js';
import { defaultJudge } from '../../../helpers/fixtures.js';
import { recordingIdentityPower } from '../../../helpers/identities.js';
import { edgeDeps, review, sampleSum } from '../../../helpers/metrics.js';
import { AGENT, configMap, container, create, edited, pod, podSpec, update, workload } from '../../../helpers/effects.js';

type Spec = Record<string, unknown>;
const FAIL_CLOSED = 'countersign_admission_fail_closed_total';
const DECISIONS = 'countersign_admission_decisions_total';
const DEPLOYER = 'system:serviceaccount:shop-dev:deployer';

let judge: Judge;
beforeAll(async () => { judge = await defaultJudge(); });

const web = workload('Deployment', 'shop-dev/web', { replicas: 2 }, podSpec({ serviceAccountName: 'deployer' }));

describe('identity facts at the edge', () => {
  it('asks the rights of the agent and of the workload\'s ServiceAccount, in the workload\'s namespace', async () => {
    const power = recordingIdentityPower();
    const deps = edgeDeps(judge, { identities: power });
    expect(await review(deps, create('apps/deployments', web))).toMatchObject({ allowed: true });
    const deployer = { username: DEPLOYER, groups: ['system:serviceaccounts', 'system:serviceaccounts:shop-dev', 'system:authenticated'] };
    expect(power.calls).toEqual([
      { identity: { username: AGENT.username, groups: AGENT.groups }, namespace: 'shop-dev' },
      // In its namespace, and cluster-wide: a right granted in every namespace reaches production from here.
      { identity: deployer, namespace: 'shop-dev' },
      { identity: deployer, namespace: '' },
    ]);
  });

  it('refuses a workload whose identity holds a right the agent lacks (acts-as-stronger-identity)', async () => {
    const deps = edgeDeps(judge, { identities: recordingIdentityPower({ [DEPLOYER]: ['get secrets'] }) });
    const answer = await review(deps, create('apps/deployments', web));
    expect(answer).toMatchObject({ allowed: false, code: 403 });
    expect(answer.message).toContain(`the workload would run as ${DEPLOYER}, which may get secrets (the agent may not)`);
    expect(await sampleSum(deps.metrics, DECISIONS, { rule: 'acts-as-stronger-identity', decision: 'denied' })).toBe(1);
    // The agent holding the same right beyond the namespace: the identity is still not an agent, so it is unjudged.
    const both = edgeDeps(judge, { identities: recordingIdentityPower({ [DEPLOYER]: ['delete namespaces'], [AGENT.username]: ['delete namespaces'] }) });
    expect((await review(both, create('apps/deployments', web))).allowed).toBe(false);
    expect(await sampleSum(both.metrics, DECISIONS, { rule: 'acts-as-unjudged-identity', decision: 'denied' })).toBe(1);
  });

  it('refuses with identity-unavailable when the rights cannot be asked, counted as fail-closed', async () => {
    const power = recordingIdentityPower({}, 'SubjectAccessReview timed out');
    const deps = edgeDeps(judge, { identities: power });
    const answer = await review(deps, create('apps/deployments', web));
    expect(answer).toMatchObject({ allowed: false, code: 500 });
    expect(answer.message).toContain('SubjectAccessReview timed out');
    expect(power.calls.length).toBeGreaterThan(0);
    expect(await sampleSum(deps.metrics, FAIL_CLOSED, { reason: 'identity-unavailable' })).toBe(1);
    expect(await sampleSum(deps.metrics, DECISIONS, { rule: 'identity-unavailable', decision: 'denied' })).toBe(1);
  });

  it('refuses with identity-unavailable when the edge has no way to ask', async () => {
    const deps = edgeDeps(judge);
    delete deps.identities;
    expect(await review(deps, create('pods', pod('shop-dev', 'p')))).toMatchObject({ allowed: false, code: 500 });
    expect(await sampleSum(deps.metrics, FAIL_CLOSED, { reason: 'identity-unavailable' })).toBe(1);
  });

  it('lets a denial decide despite the failure: a pod in kube-system is system-namespaces, not fail-closed', async () => {
    const deps = edgeDeps(judge, { identities: recordingIdentityPower({}, 'SubjectAccessReview timed out') });
    const answer = await review(deps, create('pods', pod('kube-system', 'p')));
    expect(answer).toMatchObject({ allowed: false, code: 403 });
    expect(await sampleSum(deps.metrics, DECISIONS, { rule: 'system-namespaces', decision: 'denied' })).toBe(1);
    expect(await sampleSum(deps.metrics, FAIL_CLOSED)).toBe(0);
  });

  it('asks nothing for a request that starts or changes no workload', async () => {
    const power = recordingIdentityPower({}, 'must not be asked');
    const deps = edgeDeps(judge, { identities: power });
    const cm = configMap('shop-dev', 'flags', { a: '1' });
    expect((await review(deps, update('apps/deployments', web, edited(web, (d) => { (d.spec as Spec).replicas = 5; })))).allowed).toBe(true);
    expect((await review(deps, update('configmaps', cm, configMap('shop-dev', 'flags', { a: '2' })))).allowed).toBe(true);
    const scale = (replicas: number): KubeObject => ({ kind: 'Scale', metadata: { name: 'web', namespace: 'shop-dev' }, spec: { replicas } });
    expect((await review(deps, update('apps/deployments', scale(2), scale(3), 'scale'))).allowed).toBe(true);
    // A rollout restart changes the template's metadata only: the same identity runs the same code.
    const restarted = edited(web, (d) => { ((d.spec as Spec).template as { metadata: Spec }).metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': 'now' }; });
    expect((await review(deps, update('apps/deployments', web, restarted))).allowed).toBe(true);
    expect(power.calls).toEqual([]);
    expect(await sampleSum(deps.metrics, FAIL_CLOSED)).toBe(0);
  });

  it('asks again for a changed template, as the identity it runs as', async () => {
    const power = recordingIdentityPower();
    const deps = edgeDeps(judge, { identities: power });
    const changed = edited(web, (d) => { ((d.spec as Spec).template as { spec: Spec }).spec.containers = [container('web', 'shop/web:1.1')]; });
    expect((await review(deps, update('apps/deployments', web, changed))).allowed).toBe(true);
    expect(power.calls.map((c) => c.identity.username)).toEqual([AGENT.username, DEPLOYER, DEPLOYER]);
  });
});
