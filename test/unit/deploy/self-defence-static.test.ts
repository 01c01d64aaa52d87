// The static form of the self-defence policies: what kube-apiserver's manifest loader requires (names ending
// .static.k8s.io, bindings that name a static policy, no params), and what must hold for a policy nobody can remove
// through the API: it matches agents only, with the webhook's own expression. The apiserver is the final judge
// (test/e2e/self-defence.test.ts loads these files at start).
import { describe, expect, it } from '@jest/globals';
import { Environment } from '@marcbachmann/cel-js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { selfDefenceCommand, STATIC_MANIFEST_FILE } from '../../../src/cli/webhook-config.js';
import { selfDefencePolicies, STATIC_SUFFIX } from '../../../src/deploy/self-defence-policy.js';
import { agentMatchExpression } from '../../../src/deploy/webhook-configuration.js';
import { defaultPolicy } from '../../helpers/fixtures.js';

interface Item {
  kind: string;
  metadata: { name: string };
  spec: {
    policyName?: string; paramKind?: unknown; paramRef?: unknown; validationActions?: string[];
    matchConditions?: { name: string; expression: string }[];
    matchConstraints?: { resourceRules: { operations: string[]; resources: string[] }[] };
  };
}

async function items(form: 'api' | 'static'): Promise<Item[]> {
  return (selfDefencePolicies((await defaultPolicy()).config, form) as { items: Item[] }).items;
}

const policiesOf = (all: Item[]): Item[] => all.filter((i) => i.kind === 'ValidatingAdmissionPolicy');
const bindingsOf = (all: Item[]): Item[] => all.filter((i) => i.kind === 'ValidatingAdmissionPolicyBinding');

describe('self-defence policies in static form', () => {
  it('name every object with the reserved suffix and bind every policy, by its static name, to Deny', async () => {
    const all = await items('static');
    expect(all.length).toBeGreaterThan(0);
    for (const item of all) expect(item.metadata.name.endsWith(STATIC_SUFFIX)).toBe(true);
    const policies = policiesOf(all).map((p) => p.metadata.name).sort();
    // Not two empty lists: the policies the static form exists for are there.
    expect(policies).toEqual(expect.arrayContaining([`countersign-admission-policies${STATIC_SUFFIX}`, `countersign-admission-webhooks${STATIC_SUFFIX}`]));
    expect(bindingsOf(all).map((b) => b.spec.policyName).sort()).toEqual(policies);
    for (const binding of bindingsOf(all)) {
      expect(binding.spec.validationActions).toEqual(['Deny']);
      expect(binding.spec.paramRef).toBeUndefined();
    }
    for (const policy of policiesOf(all)) expect(policy.spec.paramKind).toBeUndefined();
  });

  it('match agents only: every static policy carries the webhook\'s agents-only condition', async () => {
    const expected = agentMatchExpression((await defaultPolicy()).config.agents);
    const all = policiesOf(await items('static'));
    expect(all.length).toBeGreaterThan(0);
    for (const policy of all) expect(policy.spec.matchConditions).toEqual([{ name: 'agents-only', expression: expected }]);
    // The everyone-matching owner check stays API-managed: a static policy must never stand in a human's way.
    expect(all.map((p) => p.metadata.name)).not.toContain(`countersign-agent-owner${STATIC_SUFFIX}`);
    const cel = new Environment({ enableOptionalTypes: true }).registerVariable('request', 'dyn');
    const matches = (username: string, groups: string[]): boolean => cel.evaluate(expected, { request: { userInfo: { username, groups } } }) === true;
    expect(matches('system:serviceaccount:agents:coder', ['system:serviceaccounts'])).toBe(true);
    expect(matches('admin', ['system:masters'])).toBe(false);
    expect(matches('system:kube-controller-manager', ['system:authenticated'])).toBe(false);
  });

  it('are one definition: the static form is the API form renamed, plus the guard only a static policy can hold', async () => {
    const api = await items('api');
    const staticItems = await items('static');
    const unsuffixed = (item: Item): Item => JSON.parse(JSON.stringify(item).replaceAll(STATIC_SUFFIX, '')) as Item;
    const guard = `countersign-admission-policies${STATIC_SUFFIX}`;
    const shared = api.filter((i) => i.metadata.name !== 'countersign-agent-owner');
    expect(staticItems.filter((i) => i.metadata.name !== guard).map(unsuffixed)).toEqual(shared);
    // Every write to admission policies, bindings and webhook configurations, which API-managed policies never see.
    const rule = policiesOf(staticItems).find((p) => p.metadata.name === guard)?.spec.matchConstraints?.resourceRules[0];
    expect(rule?.operations).toEqual(['CREATE', 'UPDATE', 'DELETE']);
    expect(rule?.resources).toEqual(expect.arrayContaining([
      'validatingadmissionpolicies', 'validatingadmissionpolicybindings', 'mutatingadmissionpolicies', 'mutatingadmissionpolicybindings',
      'validatingwebhookconfigurations', 'mutatingwebhookconfigurations',
    ]));
    expect(api.map((i) => i.metadata.name)).not.toContain('countersign-admission-policies');
  });

  it('the CLI writes the manifests into DIR and prints the AdmissionConfiguration that loads DIR', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'countersign-static-')), 'manifests');
    const config = parse(await selfDefenceCommand(['--static', dir])) as { kind: string; plugins: { name: string; configuration: { kind: string; staticManifestsDir: string } }[] };
    expect(config.kind).toBe('AdmissionConfiguration');
    expect(config.plugins).toEqual([{ name: 'ValidatingAdmissionPolicy', configuration: expect.objectContaining({ kind: 'ValidatingAdmissionPolicyConfiguration', staticManifestsDir: dir }) as unknown }]);
    const written = parse(readFileSync(join(dir, STATIC_MANIFEST_FILE), 'utf8')) as { items: Item[] };
    expect(written.items).toEqual(await items('static'));
  });
});
