// The identity-power service against the real apiserver, as Countersign's own ServiceAccount: what an agent holds
// (an engineer's rights, all but impersonation), what a ServiceAccount bound to cluster-admin holds (cluster-wide
// by a ClusterRoleBinding, or only inside its namespace by a RoleBinding), and what an unbound one holds (nothing).
// Also prints the latency of cold and cached lookups (not asserted: the machine is shared).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { kubeconfigPath } from '../harness/control-plane.ts';
import { createIdentityPower, type IdentityPower } from '../../src/cluster/identity-power.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import { kubeSendReview } from '../../src/cluster/kube-subject-access-review.js';
import { DANGEROUS_RIGHTS, serviceAccountUser } from '../../src/core/dangerous-rights.js';
import { E2E_DIR, mustKubectl } from './kube.ts';

const NS = 'identity-power-e2e';
const CLUSTER_BINDING = 'identity-power-e2e-admin';
const ALL = DANGEROUS_RIGHTS.map((r) => r.name).sort();
const NAMESPACED = DANGEROUS_RIGHTS.filter((r) => r.namespaced).map((r) => r.name).sort();

function service(): IdentityPower {
  return createIdentityPower({ send: kubeSendReview(loadKubeConfig(kubeconfigPath(E2E_DIR, 'countersign'))) });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

async function timed(call: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await call();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

describe('identity power against the real apiserver', () => {
  beforeAll(() => {
    mustKubectl('admin', ['create', 'namespace', NS]);
    for (const name of ['cluster-admin-sa', 'namespace-admin-sa', 'unbound-sa']) mustKubectl('admin', ['create', 'serviceaccount', name, '-n', NS]);
    mustKubectl('admin', ['create', 'clusterrolebinding', CLUSTER_BINDING, '--clusterrole=cluster-admin', `--serviceaccount=${NS}:cluster-admin-sa`]);
    mustKubectl('admin', ['create', 'rolebinding', 'namespace-admin', '-n', NS, '--clusterrole=cluster-admin', `--serviceaccount=${NS}:namespace-admin-sa`]);
  });

  afterAll(() => {
    mustKubectl('admin', ['delete', 'clusterrolebinding', CLUSTER_BINDING, '--ignore-not-found']);
    mustKubectl('admin', ['delete', 'namespace', NS, '--ignore-not-found', '--wait=false']);
  });

  it('an agent holding an engineer\'s rights has every dangerous right but impersonation', async () => {
    const rights = await service().rightsOf(serviceAccountUser('agents', 'coder'), NS);
    expect(rights).toContain('delete namespaces');
    expect(rights).not.toContain('impersonate users');
    expect(rights).toEqual(ALL.filter((name) => !name.startsWith('impersonate ')));
  });

  it('a ServiceAccount bound to cluster-admin cluster-wide has all of them, in its namespace and cluster-wide', async () => {
    const power = service();
    const identity = serviceAccountUser(NS, 'cluster-admin-sa');
    expect(await power.rightsOf(identity, NS)).toEqual(ALL);
    expect(await power.rightsOf(identity, '')).toEqual(ALL);
  });

  it('cluster-admin granted in one namespace gives only the namespaced rights, and only there', async () => {
    const power = service();
    const identity = serviceAccountUser(NS, 'namespace-admin-sa');
    expect(await power.rightsOf(identity, NS)).toEqual(NAMESPACED);
    expect(await power.rightsOf(identity, 'default')).toEqual([]);
    expect(await power.rightsOf(identity, '')).toEqual([]);
  });

  it('an unbound ServiceAccount has none', async () => {
    expect(await service().rightsOf(serviceAccountUser(NS, 'unbound-sa'), NS)).toEqual([]);
  });

  it('measures cold and cached lookups (20 of each, medians)', async () => {
    const identity = serviceAccountUser('agents', 'coder');
    const expected = ALL.filter((name) => !name.startsWith('impersonate '));
    // Cold, new connections: a fresh service each time (a new keep-alive agent, so TLS handshakes included).
    const fresh: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const power = service();
      fresh.push(await timed(async () => { expect(await power.rightsOf(identity, NS)).toEqual(expected); }));
    }
    // Cold cache, warm connections: one service, a key it has not seen (another namespace) each time.
    const power = service();
    await power.rightsOf(identity, 'default');
    const warm: number[] = [];
    for (let i = 0; i < 20; i += 1) warm.push(await timed(async () => { expect(await power.rightsOf(identity, `never-seen-${i}`)).toEqual(expected); }));
    const cached: number[] = [];
    for (let i = 0; i < 20; i += 1) cached.push(await timed(async () => { expect(await power.rightsOf(identity, 'default')).toEqual(expected); }));
    const ms = (values: number[]): string => `${median(values).toFixed(2)} ms (min ${Math.min(...values).toFixed(2)}, max ${Math.max(...values).toFixed(2)})`;
    process.stderr.write([
      `identity-power latency, ${DANGEROUS_RIGHTS.length} SubjectAccessReviews in parallel per cold lookup, 20 calls each, medians:`,
      `  cold, fresh connections: ${ms(fresh)}`,
      `  cold cache, kept-alive connections: ${ms(warm)}`,
      `  cached: ${ms(cached)}`,
      '',
    ].join('\n'));
  });
});
