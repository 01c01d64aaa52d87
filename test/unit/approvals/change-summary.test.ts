// What a human sees of a gated change: computed from the request, bounded, Secret values redacted.
import { describe, expect, it } from '@jest/globals';
import { summarizeChange } from '../../../src/approvals/change-summary.js';
import { heldOutReview } from '../../helpers/fixtures.js';

describe('change summaries', () => {
  it('lists only the fields an UPDATE changes, before and after', () => {
    const { request } = heldOutReview('agent-update-production-deployment-4-to-1');
    expect(summarizeChange(request)?.lines).toEqual(['spec.replicas: 4 -> 1']);
  });

  it('lists a CREATE\'s content without server-set noise', () => {
    const { request } = heldOutReview('agent-bind-cluster-admin');
    const lines = summarizeChange(request)?.lines ?? [];
    expect(lines).toContain('roleRef.name: "cluster-admin"');
    expect(lines.some((l) => l.startsWith('metadata.uid') || l.startsWith('metadata.managedFields'))).toBe(false);
  });

  it('never carries Secret values', () => {
    const { request } = heldOutReview('agent-create-production-configmap');
    const secret = {
      ...request,
      resource: { group: '', version: 'v1', resource: 'secrets' },
      object: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' }, data: { password: 'c2VjcmV0' }, stringData: { token: 'plain' } },
    };
    const text = summarizeChange(secret)?.lines.join('\n') ?? '';
    expect(text).toContain('data.password: "(redacted)"');
    expect(text).not.toContain('c2VjcmV0');
    expect(text).not.toContain('plain');
  });

  it('is bounded in lines and line length', () => {
    const { request } = heldOutReview('agent-create-production-configmap');
    const data = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'.repeat(2000)]));
    const summary = summarizeChange({ ...request, object: { ...request.object, data } })!;
    expect(summary.truncated).toBe(true);
    expect(summary.lines.length).toBe(60);
    expect(Math.max(...summary.lines.map((l) => l.length))).toBeLessThanOrEqual(500);
  });

  it('says nothing for a DELETE (the object and its uid are recorded instead)', () => {
    expect(summarizeChange(heldOutReview('agent-delete-production-deployment').request)).toBeUndefined();
  });
});
