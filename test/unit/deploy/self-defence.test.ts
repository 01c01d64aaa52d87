// The shipped admission policies' CEL, evaluated on the requests they exist for. The apiserver is the final judge
// (test/e2e/self-defence.test.ts); this pins the expressions and keeps them matching agents only.
import { describe, expect, it } from '@jest/globals';
import { Environment } from '@marcbachmann/cel-js';
import { selfDefencePolicies } from '../../../src/deploy/self-defence-policy.js';
import { agentMatchExpression, BOOTSTRAP_EXCLUSION, webhookConfiguration } from '../../../src/deploy/webhook-configuration.js';
import { defaultPolicy } from '../../helpers/fixtures.js';

interface Policy {
  kind: string;
  metadata: { name: string };
  spec: { matchConditions?: { expression: string }[]; validations?: { expression: string }[]; matchConstraints?: { resourceRules: { scope?: string; resources: string[] }[] } };
}

function env(): Environment {
  return new Environment({ enableOptionalTypes: true }).registerVariable('request', 'dyn').registerVariable('object', 'dyn').registerVariable('oldObject', 'dyn');
}

async function policies(): Promise<Policy[]> {
  return (selfDefencePolicies((await defaultPolicy()).config) as { items: Policy[] }).items;
}

async function allows(name: string, input: { request: Record<string, unknown>; object?: unknown; oldObject?: unknown }): Promise<boolean> {
  const policy = (await policies()).find((p) => p.kind === 'ValidatingAdmissionPolicy' && p.metadata.name === name);
  if (policy === undefined) throw new Error(`no policy ${name}`);
  // A policy without validations would allow everything here: that is no answer.
  if ((policy.spec.validations ?? []).length === 0) throw new Error(`policy ${name} has no validations`);
  return (policy.spec.validations ?? []).every((v) => env().evaluate(v.expression, { object: null, oldObject: null, ...input }) === true);
}

const ns = (labels: Record<string, string>): unknown => ({ metadata: { name: 'shop-prod', labels } });

describe('self-defence policies', () => {
  it('match agents only, with the webhook\'s own expression, and bind every policy to Deny', async () => {
    const all = await policies();
    const expected = agentMatchExpression((await defaultPolicy()).config.agents);
    const agentsOnly = all.filter((p) => p.kind === 'ValidatingAdmissionPolicy' && p.metadata.name !== 'countersign-agent-owner');
    expect(agentsOnly.map((p) => p.metadata.name)).toEqual(expect.arrayContaining(['countersign-admission-webhooks', 'countersign-protected-namespaces', 'countersign-environment-label']));
    for (const policy of agentsOnly) {
      expect(policy.spec.matchConditions?.map((c) => c.expression)).toEqual([expected]);
    }
    // The owner annotation is immutable for everyone (an owner could otherwise approve their own agent's requests).
    const owner = all.find((p) => p.kind === 'ValidatingAdmissionPolicy' && p.metadata.name === 'countersign-agent-owner');
    expect(owner?.spec.validations?.length).toBeGreaterThan(0);
    expect(owner?.spec.matchConditions).toBeUndefined();
    expect(all.filter((p) => p.kind === 'ValidatingAdmissionPolicyBinding').map((p) => p.metadata.name).sort())
      .toEqual(all.filter((p) => p.kind === 'ValidatingAdmissionPolicy').map((p) => p.metadata.name).sort());
  });

  it('refuse any webhook configuration and Countersign\'s CRDs, not other CRDs', async () => {
    const request = (resource: string, name: string): Record<string, unknown> => ({ name, resource: { resource } });
    expect(await allows('countersign-admission-webhooks', { request: request('validatingwebhookconfigurations', 'countersign') })).toBe(false);
    expect(await allows('countersign-admission-webhooks', { request: request('mutatingwebhookconfigurations', 'anything') })).toBe(false);
    expect(await allows('countersign-admission-webhooks', { request: request('customresourcedefinitions', 'approvals.countersign.dev') })).toBe(false);
    expect(await allows('countersign-admission-webhooks', { request: request('customresourcedefinitions', 'gizmos.agent.example.com') })).toBe(true);
  });

  it('refuse a changed or removed environment label, allow other label changes', async () => {
    const request = { name: 'shop-prod' };
    const was = ns({ environment: 'production', team: 'a' });
    expect(await allows('countersign-environment-label', { request, oldObject: was, object: ns({ team: 'a' }) })).toBe(false);
    expect(await allows('countersign-environment-label', { request, oldObject: was, object: ns({ environment: 'development', team: 'a' }) })).toBe(false);
    expect(await allows('countersign-environment-label', { request, oldObject: was, object: ns({ environment: 'production', team: 'b' }) })).toBe(true);
  });

  it('scope the namespace policy, so other cluster-scoped writes are not caught by its namespaceSelector', async () => {
    const policy = (await policies()).find((p) => p.metadata.name === 'countersign-protected-namespaces');
    const rules = policy?.spec.matchConstraints?.resourceRules ?? [];
    expect(rules.map((r) => r.scope)).toEqual(['Namespaced', 'Cluster']);
    expect(rules[1]?.resources).toEqual(['namespaces', 'namespaces/*']);
  });

  it('keep the webhook away from the namespaces the policies guard, and from heartbeats, but not from Node deletes', async () => {
    const config = (await defaultPolicy()).config;
    const webhook = (webhookConfiguration(config, { clientConfig: { url: 'https://x' } }) as { webhooks: { namespaceSelector?: unknown }[] }).webhooks[0];
    expect(webhook?.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['countersign', 'kube-system', 'kube-public', 'kube-node-lease'] }] });
    const guarded = (await policies()).find((p) => p.metadata.name === 'countersign-protected-namespaces') as unknown as { spec: { matchConstraints: { namespaceSelector: unknown } } };
    expect(guarded.spec.matchConstraints.namespaceSelector).toEqual({ matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['countersign', 'kube-system', 'kube-public', 'kube-node-lease'] }] });
    // As the apiserver builds it: no subResource key at all when there is none.
    const sent = (group: string, resource: string, subResource?: string, username = 'system:node:n1'): unknown =>
      env().evaluate(BOOTSTRAP_EXCLUSION, { request: { userInfo: { username }, resource: { group, resource }, ...(subResource === undefined ? {} : { subResource }) } });
    expect([sent('coordination.k8s.io', 'leases'), sent('', 'nodes', 'status')]).toEqual([false, false]);
    // Only a node's own heartbeats: an agent taking a controller's leader Lease, or writing node status, is judged.
    const agent = 'system:serviceaccount:agents:coder';
    expect([sent('coordination.k8s.io', 'leases', undefined, agent), sent('', 'nodes', 'status', agent)]).toEqual([true, true]);
    expect([sent('', 'nodes'), sent('', 'pods'), sent('apps', 'deployments'), sent('certificates.k8s.io', 'certificatesigningrequests', 'approval')]).toEqual([true, true, true, true]);
  });

  it('keep the owner recorded on a ServiceAccount once set, for everyone', async () => {
    const sa = (owner?: string): unknown => ({ metadata: { name: 's', ...(owner === undefined ? {} : { annotations: { 'countersign.dev/owner': owner } }) } });
    const request = { namespace: 'agents', name: 's' };
    expect(await allows('countersign-agent-owner', { request, oldObject: sa('sre-a'), object: sa() })).toBe(false);
    expect(await allows('countersign-agent-owner', { request, oldObject: sa('sre-a'), object: sa('sre-b') })).toBe(false);
    expect(await allows('countersign-agent-owner', { request, oldObject: sa('sre-a'), object: sa('sre-a') })).toBe(true);
    expect(await allows('countersign-agent-owner', { request, oldObject: sa(), object: sa('sre-a') })).toBe(true);
  });
});
