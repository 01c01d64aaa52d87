// The core over AdmissionReviews captured from a real kube-apiserver v1.37 (npm run fixtures:capture).
// Expected outcomes were written by hand from the default policy's intent, not copied from Countersign's answers.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AdmissionRequest, KubeObject } from '../../../src/kube/types.js';
import { decodeReview } from '../../../src/webhook/decode.js';
import { defaultJudge, readJson, offline } from '../../helpers/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const DIR = join(HERE, '..', '..', 'fixtures', 'captured');
const expected = readJson(join(DIR, 'expected.json')) as Record<string, { allowed: boolean; tier: string; rule: string }>;
const namespaces = (readJson(join(DIR, 'cluster.json')) as { items: KubeObject[] }).items;
const names = readdirSync(join(DIR, 'reviews')).map((f) => f.replace(/\.json$/, '')).sort();

function captured(name: string): AdmissionRequest {
  const decoded = decodeReview(readJson(join(DIR, 'reviews', `${name}.json`)));
  if (!decoded.ok) throw new Error(`${name}: ${decoded.message}`);
  return decoded.request;
}

describe('captured reviews', () => {
  it('has an expectation for every capture', () => {
    expect(names).toEqual(Object.keys(expected).sort());
  });

  it.each(names)('%s', async (name) => {
    const request = captured(name);
    const namespace = namespaces.find((ns) => ns.metadata?.name === request.namespace);
    const decision = (await defaultJudge()).decide(namespace === undefined ? { request, ...offline(request) } : { request, namespace, ...offline(request) });
    expect({ allowed: decision.allowed, tier: decision.tier, rule: decision.rule }).toEqual(expected[name]);
    expect(decision.requester.isAgent).toBe(true);
  });

  it('shows what the apiserver really sends', () => {
    const item = captured('deletecollection-item-production-configmap');
    // shared/reference said `name: ""`; v1.37 omits the field altogether. CEL still sees request.name == "".
    expect('name' in item).toBe(false);
    expect(item.oldObject?.metadata?.name).toMatch(/^[a-z0-9.-]+$/);
    expect(captured('dry-run-delete-production-deployment').dryRun).toBe(true);
    expect(captured('orphan-delete-production-deployment').options?.propagationPolicy).toBe('Orphan');
    const scale = captured('scale-production-to-zero');
    expect(scale.kind).toEqual({ group: 'autoscaling', version: 'v1', kind: 'Scale' });
    expect(scale.subResource).toBe('scale');
    // autoscaling/v1 Scale omits spec.replicas when it is 0: the default policy's orValue(0) is needed.
    expect(scale.object?.spec).toEqual({});
    const nsDelete = captured('delete-production-namespace');
    expect(nsDelete.namespace).toBe(nsDelete.name);
    expect(nsDelete.object).toBeNull();
    expect(captured('delete-crd').namespace ?? '').toBe('');
  });
});

describe('CEL sees a DeleteCollection item the way ValidatingAdmissionPolicy does', () => {
  it('request.name is "" and the object name comes from oldObject', async () => {
    const { judgeFrom } = await import('../../helpers/fixtures.js');
    const judge = judgeFrom(`
rules:
  - name: r
    tier: deny
    expression: "request.name == '' && oldObject.metadata.name != ''"`);
    expect(judge.decide({ request: captured('deletecollection-item-production-configmap') }).rule).toBe('r');
  });
});
