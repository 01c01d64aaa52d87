// A shell into a pod (exec, attach, port-forward) runs with that pod's identity and powers: the edge reads the pod
// (PodIdentities) and the core judges its ServiceAccount (acts-as-*) and its node powers (node-access), in every
// environment. A pod that cannot be read refuses the agent (fail closed).
import { beforeAll, describe, expect, it } from '@jest/globals';
import type { ConnectedPod, PodIdentities } from '../../../src/cluster/pod-identity.js';
import type { Judge } from '../../../src/core/decide.js';
import { defaultJudge } from '../../helpers/fixtures.js';
import { recordingIdentityPower } from '../../helpers/identities.js';
import { edgeDeps, review } from '../../helpers/metrics.js';
import { connect } from '../../helpers/effects.js';

let judge: Judge;
beforeAll(async () => { judge = await defaultJudge(); });

function pods(table: Record<string, ConnectedPod>): PodIdentities & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    podOf(namespace, name) {
      asked.push(`${namespace}/${name}`);
      const pod = table[`${namespace}/${name}`];
      return pod === undefined ? Promise.reject(new Error(`pods "${name}" not found`)) : Promise.resolve(pod);
    },
  };
}

const plain: ConnectedPod = { serviceAccount: 'default', spec: { containers: [{ name: 'app', image: 'shop/app:1' }] } };
const nodeExporter: ConnectedPod = { serviceAccount: 'default', spec: { hostPID: true, containers: [{ name: 'x', image: 'prom/node-exporter:1' }], volumes: [{ name: 'root', hostPath: { path: '/' } }] } };
const ops: ConnectedPod = { serviceAccount: 'ops', spec: { containers: [{ name: 'app', image: 'shop/ops:1' }] } };

describe('a shell into a pod', () => {
  it('in development, into a pod running as a rightless default ServiceAccount: allowed, after reading the pod', async () => {
    const lookups = pods({ 'shop-dev/app-1': plain });
    const deps = edgeDeps(judge, { pods: lookups });
    expect(await review(deps, connect('pods', 'exec', 'shop-dev', 'app-1'))).toMatchObject({ allowed: true });
    expect(lookups.asked).toEqual(['shop-dev/app-1']);
  });

  it('into a pod with the node\'s powers, even in development: node-access', async () => {
    const deps = edgeDeps(judge, { pods: pods({ 'shop-dev/node-exporter-x': nodeExporter }) });
    const answer = await review(deps, connect('pods', 'exec', 'shop-dev', 'node-exporter-x'));
    expect(answer).toMatchObject({ allowed: false });
    expect(answer.message).toContain('rule node-access');
    expect(answer.message).toContain('hostPID');
  });

  it('into a pod running as an identity stronger than the agent: acts-as-stronger-identity, for attach and port-forward too', async () => {
    const deps = edgeDeps(judge, {
      pods: pods({ 'shop-dev/ops-1': ops }),
      identities: recordingIdentityPower({ 'system:serviceaccount:shop-dev:ops': ['impersonate users'] }),
    });
    for (const sub of ['exec', 'attach', 'portforward']) {
      const answer = await review(deps, connect('pods', sub, 'shop-dev', 'ops-1'));
      expect(answer.allowed).toBe(false);
      expect(answer.message).toContain('rule acts-as-stronger-identity');
    }
  });

  it('into a pod that cannot be read: refused, identity-unavailable (never allowed for want of an answer)', async () => {
    const deps = edgeDeps(judge, { pods: pods({}) });
    const answer = await review(deps, connect('pods', 'exec', 'shop-dev', 'gone'));
    expect(answer).toMatchObject({ allowed: false, code: 500 });
    expect(answer.message).toContain('could not be checked');
    // Without a way to read pods at all (a snapshot), the same.
    const offline = await review(edgeDeps(judge), connect('pods', 'exec', 'shop-dev', 'app-1'));
    expect(offline).toMatchObject({ allowed: false, code: 500 });
  });
});
