// The default policy as agents, humans and controllers meet it through real kubectl and a real kube-apiserver.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { restartCountersign, stopProcess } from '../harness/control-plane.ts';
import { shopManifest } from '../harness/shop.ts';
import { DIRECT_POST_HUMAN, E2E_DIR, eventually, kubectlAs, mustKubectl, webhookDecisions } from './kube.ts';

const DENIED = 'admission webhook "agents.countersign.dev" denied the request';

beforeAll(() => {
  for (const [ns, env] of [['shop-prod', 'production'], ['shop-dev', 'development'], ['shop-prod-2', 'production'], ['bulk-prod', 'production']] as const) {
    mustKubectl('admin', ['apply', '-f', '-'], shopManifest(ns, env));
  }
  for (let i = 0; i < 5; i += 1) mustKubectl('admin', ['create', 'configmap', `item-${i}`, '-n', 'bulk-prod', '--from-literal=i=1']);
});

describe('an agent under the default policy', () => {
  it('is refused deleting a production namespace, with Countersign\'s message', () => {
    const run = kubectlAs('coder', ['delete', 'namespace', 'shop-prod']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(DENIED);
    expect(run.stderr).toContain('Countersign requires a human approval for this request (rule production-namespace-delete)');
    expect(run.stderr).toContain('(0 of 2 approvals, SSH-signed)');
    expect(run.stderr).toMatch(/Request digest: sha256:[0-9a-f]{64}/);
    expect(mustKubectl('admin', ['get', 'namespace', 'shop-prod', '-o', 'jsonpath={.status.phase}'])).toBe('Active');
  });

  it('sees kubectl print Countersign\'s warning on an audited production change', () => {
    const run = kubectlAs('coder', ['create', 'configmap', 'hotfix', '-n', 'shop-prod', '--from-literal=LOG_LEVEL=debug']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('Warning: Countersign audit (rule production-change): create configmaps shop-prod/hotfix');
  });

  it('can ask what would happen with --dry-run=server, and nothing happens', () => {
    const run = kubectlAs('coder', ['delete', 'deployment', 'web', '-n', 'shop-prod', '--dry-run=server']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('Warning: dry run: Countersign would refuse this request until a human approves it (rule production-delete)');
    expect(run.stderr).toContain(DENIED);
    const logged = webhookDecisions().filter((d) => d.name === 'web' && d.operation === 'DELETE' && d.dryRun);
    expect(logged.length).toBeGreaterThan(0);
    mustKubectl('admin', ['get', 'deployment', 'web', '-n', 'shop-prod']);
  });

  it('is refused scaling production to zero (the scale subresource)', () => {
    const run = kubectlAs('coder', ['scale', 'deployment', 'web', '-n', 'shop-prod', '--replicas=0']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('rule production-scale-down');
    expect(run.stderr).toContain('from 3 to 0 replicas');
  });

  it('is refused binding itself to cluster-admin, though RBAC would let it', () => {
    const run = kubectlAs('coder', ['create', 'clusterrolebinding', 'coder-admin', '--clusterrole=cluster-admin', '--serviceaccount=agents:coder']);
    expect(run.stderr).toContain('Countersign denied this request (rule rbac-bind-cluster-admin)');
    expect(kubectlAs('admin', ['get', 'clusterrolebinding', 'coder-admin']).code).not.toBe(0);
  });

  it('cannot mint a token for a more powerful ServiceAccount, nor impersonate one', () => {
    const token = kubectlAs('coder', ['create', 'token', 'namespace-controller', '-n', 'kube-system']);
    expect(token.code).not.toBe(0);
    // kube-system never reaches the webhook: the self-defence admission policy refuses the agent there.
    expect(token.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-protected-namespaces(\.static\.k8s\.io)?'.*agents may not touch anything in namespace kube-system/);
    // Outside the system's namespaces the webhook judges it: another agent's identity is refused too.
    const peer = kubectlAs('coder', ['create', 'token', 'ops-bot', '-n', 'agents']);
    expect(peer.stderr).toContain('Countersign denied this request (rule token-for-another-identity)');
    // Its own token is fine: that changes nothing about who it is.
    expect(kubectlAs('coder', ['create', 'token', 'coder', '-n', 'agents']).code).toBe(0);
    const impersonate = kubectlAs('coder', ['delete', 'namespace', 'shop-prod', '--as', 'sre-a']);
    expect(impersonate.code).not.toBe(0);
    expect(impersonate.stderr).toMatch(/cannot impersonate/);
  });

  it('cannot borrow a controller\'s identity by running a pod as it in kube-system', () => {
    const pod = kubectlAs('coder', ['run', 'borrow', '-n', 'kube-system', '--image=busybox:1.36', '--restart=Never', '--overrides={"spec":{"serviceAccountName":"namespace-controller"}}']);
    expect(pod.code).not.toBe(0);
    expect(pod.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-protected-namespaces(\.static\.k8s\.io)?'.*agents may not touch anything in namespace kube-system/);
  });

  it('works freely outside production', () => {
    expect(kubectlAs('ops-bot', ['delete', 'configmap', 'shop-config', '-n', 'shop-dev']).code).toBe(0);
    expect(kubectlAs('ops-bot', ['scale', 'deployment', 'web', '-n', 'shop-dev', '--replicas=0']).code).toBe(0);
  });

  it('cannot do with kubectl delete --all what one delete may not: every DELETE is judged', () => {
    const run = kubectlAs('coder', ['delete', 'configmaps', '--all', '-n', 'bulk-prod']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('rule production-delete');
    const left = mustKubectl('admin', ['get', 'configmaps', '-n', 'bulk-prod', '-o', 'name']);
    for (let i = 0; i < 5; i += 1) expect(left).toContain(`configmap/item-${i}`);
  });

  it('cannot empty a production namespace with one DeleteCollection: the apiserver asks about each item', () => {
    const run = kubectlAs('coder', ['delete', '--raw', '/api/v1/namespaces/bulk-prod/configmaps?labelSelector=']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('Countersign requires a human approval');
    const items = webhookDecisions().filter((d) => d.namespace === 'bulk-prod' && d.operation === 'DELETE' && d.requester.endsWith(':coder'));
    // DeleteCollection items reach the webhook one by one with the object's name taken from oldObject.
    expect(items.some((d) => d.name.startsWith('item-') || d.name === 'kube-root-ca.crt')).toBe(true);
    const left = mustKubectl('admin', ['get', 'configmaps', '-n', 'bulk-prod', '-o', 'name']);
    expect(left.split('\n').filter((l) => l.startsWith('configmap/item-')).length).toBe(5);
  });
});

describe('humans and controllers', () => {
  it('an SRE deletes a production namespace; the namespace controller empties it; the webhook never hears of either', async () => {
    const before = webhookDecisions().length;
    mustKubectl('sre-a', ['delete', 'namespace', 'shop-prod-2', '--wait=false']);
    await eventually('shop-prod-2 to disappear', 90_000, () =>
      kubectlAs('admin', ['get', 'namespace', 'shop-prod-2']).code !== 0 ? true : undefined,
    );
    const after = webhookDecisions().slice(before);
    // What follows says nothing was logged: first, that the log is read at all (the agents' decisions are in it).
    expect(webhookDecisions().filter((d) => d.requester.startsWith('system:serviceaccount:agents:')).length).toBeGreaterThan(5);
    expect(after.filter((d) => d.requester === 'sre-a')).toEqual([]);
    expect(after.filter((d) => d.requester.startsWith('system:serviceaccount:kube-system:'))).toEqual([]);
    // Only approval resources are checked for everyone (approvals.countersign.dev); nothing else of a human's.
    // (Reviews the recovery suite posts straight to Countersign as a human are not the apiserver's.)
    const others = webhookDecisions().filter((d) => !d.requester.startsWith('system:serviceaccount:agents:') &&
      !d.resource.startsWith('countersign.dev/') && d.requester !== DIRECT_POST_HUMAN);
    expect(others).toEqual([]);
  });

  it('a developer changes production without Countersign in the way', () => {
    expect(kubectlAs('dev-a', ['delete', 'configmap', 'hotfix', '-n', 'shop-prod']).code).toBe(0);
  });
});

describe('with Countersign stopped', () => {
  beforeAll(async () => {
    const pid = Number(readFileSync(join(E2E_DIR, 'countersign.pid'), 'utf8').trim());
    await stopProcess(pid);
  });
  // Other suites share this control plane: bring the webhook back as it was.
  afterAll(async () => { await restartCountersign(E2E_DIR); });

  it('agents\' writes fail closed', () => {
    const run = kubectlAs('coder', ['create', 'configmap', 'while-down', '-n', 'shop-dev', '--from-literal=a=b']);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/failed calling webhook "agents\.countersign\.dev"/);
    expect(kubectlAs('admin', ['get', 'configmap', 'while-down', '-n', 'shop-dev']).code).not.toBe(0);
  });

  it('agents\' deletes of production namespaces fail too', () => {
    const run = kubectlAs('coder', ['delete', 'namespace', 'shop-prod', '--wait=false']);
    expect(run.code).not.toBe(0);
    expect(mustKubectl('admin', ['get', 'namespace', 'shop-prod', '-o', 'jsonpath={.status.phase}'])).toBe('Active');
  });

  it('humans and controllers carry on: an SRE deletes the production namespace and it really goes', async () => {
    mustKubectl('sre-a', ['delete', 'namespace', 'shop-prod', '--wait=false']);
    await eventually('shop-prod to disappear', 90_000, () => (kubectlAs('admin', ['get', 'namespace', 'shop-prod']).code !== 0 ? true : undefined));
  });
});
