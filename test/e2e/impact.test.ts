// Blast radius and bulk budgets against the real control plane: the counts come from Countersign's own watches of
// a real apiserver, the objects from real controllers (namespace, root-ca, service-account, deployment, replicaset).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { countersignPort, startReplica, stopProcess, type Replica } from '../harness/control-plane.ts';
import { capturedReview, E2E_DIR, eventually, kubectlAs, mustKubectl, postReview, webhookDecisions } from './kube.ts';

function configMaps(namespace: string, count: number, prefix = 'cm'): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${prefix}-${i}`, namespace }, data: { i: String(i) } })).join('\n');
}

/** Polls an agent's server-side dry run (no side effects) until Countersign's answer says what is expected. */
async function dryRunUntil(identity: string, args: string[], expected: RegExp): Promise<string> {
  return eventually(`a dry run answering ${String(expected)}`, 30_000, () => {
    const run = kubectlAs(identity, [...args, '--dry-run=server']);
    const said = `${run.stdout}\n${run.stderr}`;
    return expected.test(said) ? said : undefined;
  });
}

describe('blast radius at the cascade root', () => {
  it('gates an agent deleting a development namespace holding 50 objects, with the counts, bound to them', async () => {
    const ns = 'impact-dev';
    mustKubectl('admin', ['create', 'namespace', ns]);
    mustKubectl('admin', ['label', 'namespace', ns, 'environment=development']);
    mustKubectl('admin', ['apply', '-f', '-'], configMaps(ns, 48));
    // The root-ca controller adds kube-root-ca.crt and the service-account controller `default`: 50 inside.
    await eventually('the default ServiceAccount', 30_000, () => (kubectlAs('admin', ['get', 'sa', 'default', '-n', ns]).code === 0 ? true : undefined));
    const expected = /removing 51 objects \(49 configmaps, 1 namespaces, 1 serviceaccounts\)/;
    await dryRunUntil('coder', ['delete', 'namespace', ns], expected);
    const refused = kubectlAs('coder', ['delete', 'namespace', ns]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/requires a human approval for this request \(rule large-delete\)/);
    expect(refused.stderr).toMatch(expected);
    const request = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(refused.stderr)?.[1];
    expect(request).toBeDefined();
    const recorded = JSON.parse(mustKubectl('admin', ['get', 'approvalrequest', request!, '-n', 'countersign', '-o', 'json'])) as { spec: { impact: { total: number; byResource: Record<string, number> } } };
    expect(recorded.spec.impact).toMatchObject({ total: 51, byResource: { configmaps: 49, namespaces: 1, serviceaccounts: 1 } });

    // Approved for 51 objects, the namespace then grows: the approval does not cover what it has become.
    mustKubectl('sre-a', ['countersign', 'approve', request!, '--reason', 'cleanup of a finished experiment']);
    mustKubectl('admin', ['apply', '-f', '-'], configMaps(ns, 5, 'late'));
    await dryRunUntil('coder', ['delete', 'namespace', ns], /removing 56 objects/);
    const grown = kubectlAs('coder', ['delete', 'namespace', ns]);
    expect(grown.code).not.toBe(0);
    expect(grown.stderr).toMatch(/removing 56 objects \(54 configmaps/);
    expect(grown.stderr).not.toContain(request!);
    expect(kubectlAs('admin', ['get', 'namespace', ns]).code).toBe(0);

    // Approved for what it is now, the same delete goes through.
    const again = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(grown.stderr)?.[1];
    if (again === undefined) throw new Error(`no approval request in: ${grown.stderr}`);
    mustKubectl('sre-a', ['countersign', 'approve', again, '--reason', 'cleanup, 56 objects checked']);
    const done = kubectlAs('coder', ['delete', 'namespace', ns, '--wait=false']);
    expect(done.stderr).toMatch(/allowed with approval .* by sre-a, now used/);
    expect(done.code).toBe(0);
  });

  it('gates deleting a CRD with the count of its 30 custom resources', async () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'widgets.impact.example.com' },
      spec: {
        group: 'impact.example.com', scope: 'Namespaced', names: { kind: 'Widget', plural: 'widgets', singular: 'widget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    };
    mustKubectl('admin', ['apply', '-f', '-'], JSON.stringify(crd));
    mustKubectl('admin', ['wait', '--for=condition=Established', '--timeout=60s', 'crd/widgets.impact.example.com']);
    mustKubectl('admin', ['create', 'namespace', 'impact-crs']);
    const widgets = Array.from({ length: 30 }, (_, i) => JSON.stringify({ apiVersion: 'impact.example.com/v1', kind: 'Widget', metadata: { name: `w-${i}`, namespace: 'impact-crs' } })).join('\n');
    await eventually('the Widget resource to be served', 30_000, () => (kubectlAs('admin', ['apply', '-f', '-'], widgets).code === 0 ? true : undefined));
    const expected = /removing 31 objects \(30 widgets\.impact\.example\.com, 1 customresourcedefinitions\.apiextensions\.k8s\.io\)/;
    await dryRunUntil('coder', ['delete', 'crd', 'widgets.impact.example.com'], expected);
    const refused = kubectlAs('coder', ['delete', 'crd', 'widgets.impact.example.com']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/rule cluster-scoped-delete/);
    expect(refused.stderr).toMatch(expected);
    expect(kubectlAs('admin', ['get', 'widgets', '-n', 'impact-crs', '-o', 'name']).stdout.trim().split('\n')).toHaveLength(30);
  });

  it('counts a Deployment\'s ReplicaSet and pods with Background propagation, and only the Deployment with Orphan', async () => {
    const ns = 'impact-prod';
    mustKubectl('admin', ['create', 'namespace', ns]);
    mustKubectl('admin', ['label', 'namespace', ns, 'environment=production']);
    mustKubectl('admin', ['create', 'deployment', 'web', '-n', ns, '--image=registry.k8s.io/pause:3.10', '--replicas=3']);
    // No nodes run them, but the real deployment and replicaset controllers create the ReplicaSet and 3 Pods.
    await eventually('3 pods', 60_000, () => (kubectlAs('admin', ['get', 'pods', '-n', ns, '-o', 'name']).stdout.trim().split('\n').filter(Boolean).length === 3 ? true : undefined));
    await dryRunUntil('coder', ['delete', 'deployment', 'web', '-n', ns], /removing 5 objects \(3 pods, 1 deployments\.apps, 1 replicasets\.apps\)/);
    const cascading = kubectlAs('coder', ['delete', 'deployment', 'web', '-n', ns]);
    expect(cascading.stderr).toMatch(/rule production-delete\): delete deployments impact-prod\/web in production, removing 5 objects \(3 pods, 1 deployments\.apps, 1 replicasets\.apps\)/);
    const orphan = kubectlAs('coder', ['delete', 'deployment', 'web', '-n', ns, '--cascade=orphan']);
    expect(orphan.code).not.toBe(0);
    expect(orphan.stderr).toMatch(/removing 1 object \(1 deployments\.apps\)\./);
  });
});

describe('the picture missing', () => {
  let blind: Replica | undefined;
  beforeAll(async () => { blind = await startReplica(E2E_DIR, { identity: 'dev-a' }); });
  afterAll(async () => { if (blind !== undefined) await stopProcess(blind.pid); });

  it('refuses an agent\'s delete, saying impact could not be computed, and lets everyone else through', async () => {
    // dev-a may not list CRDs, PersistentVolumes and more: a replica running as dev-a never completes its picture.
    const agentDelete = webhookDecisions().find((d) => d.requester.startsWith('system:serviceaccount:agents:') && d.operation === 'DELETE' && d.resource === 'apps/deployments');
    if (agentDelete === undefined) throw new Error('no agent delete was logged yet');
    const answer = await postReview(blind!.port, capturedReview(agentDelete.uid));
    expect(answer.response.allowed).toBe(false);
    expect(answer.response.status?.message).toMatch(/the impact of this request could not be computed \(cluster picture not ready: .*not yet listed/);
    const human = JSON.parse(capturedReview(agentDelete.uid)) as { request: { userInfo: { username: string; groups: string[] } } };
    human.request.userInfo = { username: 'sre-a', groups: ['sre', 'system:authenticated'] };
    expect((await postReview(blind!.port, JSON.stringify(human))).response.allowed).toBe(true);
  });
});

describe('bulk budgets', () => {
  const ns = 'sweep-dev';
  let second: Replica | undefined;
  beforeAll(async () => {
    mustKubectl('admin', ['create', 'namespace', ns]);
    mustKubectl('admin', ['label', 'namespace', ns, 'environment=development']);
    mustKubectl('admin', ['apply', '-f', '-'], configMaps(ns, 25));
    second = await startReplica(E2E_DIR);
  });
  afterAll(async () => { if (second !== undefined) await stopProcess(second.pid); });

  it('stops an agent\'s `kubectl delete --all` loop at its budget, and two replicas together hold it there', async () => {
    // 15 real deletes through the apiserver (which calls the first replica), one at a time as kubectl does them.
    for (let i = 0; i < 15; i++) mustKubectl('sweeper', ['delete', 'configmap', `cm-${i}`, '-n', ns]);
    const last = webhookDecisions().filter((d) => d.requester === 'system:serviceaccount:agents:sweeper' && d.operation === 'DELETE').at(-1);
    if (last === undefined) throw new Error('the sweeper\'s deletes were not logged');
    // Then 10 more at once, split across both replicas: copies of the real apiserver's review with their own uids.
    const review = JSON.parse(capturedReview(last.uid)) as { request: { uid: string } };
    const ports = [countersignPort(E2E_DIR), second!.port];
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => {
      review.request.uid = `${last.uid.slice(0, -4)}${String(1000 + i)}`;
      return postReview(ports[i % 2]!, JSON.stringify(review));
    }));
    // The default budget is 20 a minute: exactly 5 of the 10 fit, whichever replica answered.
    expect(answers.filter((a) => a.response.allowed)).toHaveLength(5);
    expect(answers.find((a) => !a.response.allowed)?.response.status?.message).toMatch(/rule delete-budget\): 2[1-9] deletes by system:serviceaccount:agents:sweeper within 60s; the budget is 20 a minute/);
    // And the apiserver's own next delete is refused too.
    const over = kubectlAs('sweeper', ['delete', 'configmap', '--all', '-n', ns]);
    expect(over.code).not.toBe(0);
    expect(over.stderr).toMatch(/rule delete-budget/);
    expect(kubectlAs('admin', ['get', 'configmap', 'cm-20', '-n', ns]).code).toBe(0);

    // A human grants a bounded bulk quota through one of those requests: 3 more configmap deletes here.
    const request = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(over.stderr)?.[1];
    if (request === undefined) throw new Error(`no approval request in: ${over.stderr}`);
    expect(mustKubectl('sre-a', ['countersign', 'approve', request, '--reason', 'sweeping test configmaps', '--quota', '3', '--ttl', '10m']))
      .toContain(`a quota of 3 deletes of configmaps in ${ns} by system:serviceaccount:agents:sweeper`);
    const swept = ['cm-20', 'cm-21', 'cm-22', 'cm-23'].map((name) => kubectlAs('sweeper', ['delete', 'configmap', name, '-n', ns]));
    expect(swept.map((run) => run.code === 0)).toEqual([true, true, true, false]);
    expect(swept[2]?.stderr).toMatch(/allowed under quota .* by sre-a \(3 of 3 used\)/);
    expect(swept[3]?.stderr).toMatch(/rule delete-budget/);
  });
});
