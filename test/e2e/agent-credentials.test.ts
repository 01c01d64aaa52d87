// kubectl countersign agent-credentials against the real apiserver: a human issues an agent session its own
// ServiceAccount, Role and token; the agent works with that and nothing more; the guard sees it as an agent and
// knows its owner, who may not approve its requests.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KUBECTL } from '../harness/control-plane.ts';
import { kubectlAs, mustKubectl, webhookDecisions, type Run } from './kube.ts';

const AGENT = 'session-1';
const kubeconfig = join(mkdtempSync(join(tmpdir(), 'countersign-agent-')), 'agent.kubeconfig');

function asAgent(args: string[]): Run {
  const result = spawnSync(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

describe('agent-credentials', () => {
  it('gives the agent its own identity and rights, known to the guard with its owner', () => {
    for (const [ns, environment] of [['ac-dev', 'development'], ['ac-prod', 'production']] as const) {
      mustKubectl('admin', ['create', 'namespace', ns]);
      mustKubectl('admin', ['label', 'namespace', ns, `environment=${environment}`]);
    }
    mustKubectl('admin', ['create', 'configmap', 'old-config', '-n', 'ac-prod', '--from-literal=a=b']);
    const issued = kubectlAs('sre-a', ['countersign', 'agent-credentials', AGENT, '-n', 'ac-dev,ac-prod', '--ttl', '30m']);
    expect(issued.code).toBe(0);
    expect(issued.stderr).toContain(`issued agents/${AGENT} for sre-a in ac-dev, ac-prod`);
    writeFileSync(kubeconfig, issued.stdout, { mode: 0o600 });
    expect(mustKubectl('admin', ['get', 'serviceaccount', AGENT, '-n', 'agents', '-o', 'jsonpath={.metadata.annotations.countersign\\.dev/owner}'])).toBe('sre-a');

    // Its rights: application work in the namespaces asked for, nothing else.
    expect(asAgent(['create', 'configmap', 'made-by-agent', '-n', 'ac-dev', '--from-literal=x=y']).code).toBe(0);
    expect(asAgent(['get', 'secrets', '-n', 'ac-dev']).stderr).toMatch(/forbidden/);
    expect(asAgent(['create', 'configmap', 'elsewhere', '-n', 'default']).stderr).toMatch(/forbidden/);
    expect(asAgent(['create', 'rolebinding', 'x', '-n', 'ac-dev', '--clusterrole=admin', `--serviceaccount=agents:${AGENT}`]).stderr).toMatch(/forbidden/);
    // The guard sees it as an agent.
    expect(webhookDecisions().some((d) => d.requester === `system:serviceaccount:agents:${AGENT}` && d.name === 'made-by-agent' && d.agent)).toBe(true);

    // Its production delete is gated; its owner may not approve it, a colleague may.
    const gated = asAgent(['delete', 'configmap', 'old-config', '-n', 'ac-prod']);
    expect(gated.stderr).toMatch(/rule production-delete/);
    const request = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(gated.stderr)?.[1];
    if (request === undefined) throw new Error(`no approval request in: ${gated.stderr}`);
    const byOwner = kubectlAs('sre-a', ['countersign', 'approve', request, '--reason', 'my own agent']);
    expect(byOwner.code).not.toBe(0);
    expect(byOwner.stderr).toContain(`sre-a owns system:serviceaccount:agents:${AGENT} (it acts for them): an agent's owner may not approve its requests`);
    mustKubectl('sre-b', ['countersign', 'approve', request, '--reason', 'checked: unused since the migration']);
    expect(asAgent(['delete', 'configmap', 'old-config', '-n', 'ac-prod']).code).toBe(0);

    // The owner cannot step out of the way either: the recorded owner is immutable, for everyone.
    const unown = kubectlAs('sre-a', ['annotate', 'serviceaccount', AGENT, '-n', 'agents', 'countersign.dev/owner-']);
    expect(unown.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-agent-owner'.*cannot be changed or removed/);
    // Nobody else can take the session over, and the agent cannot rewrite who owns it.
    const takeover = kubectlAs('sre-b', ['countersign', 'agent-credentials', AGENT, '-n', 'ac-dev']);
    expect(takeover.stderr).toContain(`agents/${AGENT} exists and is owned by sre-a, not sre-b`);
    const rewrite = kubectlAs('coder', ['annotate', 'serviceaccount', AGENT, '-n', 'agents', 'countersign.dev/owner=coder', '--overwrite']);
    expect(rewrite.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-agent-owner'/);
    // Nor name an owner on a ServiceAccount of its own making (the webhook's rule; creation is no update).
    const forged = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'forged', namespace: 'agents', annotations: { 'countersign.dev/owner': 'sre-b' } } };
    expect(kubectlAs('coder', ['create', '-f', '-'], JSON.stringify(forged)).stderr).toMatch(/rule agent-owner-annotation/);
  });
});
