// The plugin's pure parts: ages, effective phases, and what list/show print.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { ApprovalObject, ApprovalRequestObject } from '../../../src/approvals/types.js';
import { listRequests, showRequest } from '../../../src/plugin/commands.js';
import { age } from '../../../src/plugin/format.js';
import { effectivePhase } from '../../../src/approvals/phase.js';

const NOW = new Date('2026-11-21T10:00:00Z');
const at = (minutes: number): string => new Date(NOW.getTime() + minutes * 60_000).toISOString();

const request: ApprovalRequestObject = {
  apiVersion: 'countersign.dev/v1alpha1', kind: 'ApprovalRequest',
  metadata: { name: 'cs-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', namespace: 'countersign', creationTimestamp: at(-5) },
  spec: {
    digest: `sha256:${'a'.repeat(64)}`,
    action: { operation: 'DELETE', group: 'apps', version: 'v1', resource: 'deployments', subResource: '', namespace: 'shop', name: 'web', uid: 'u', resourceVersion: '7', propagationPolicy: 'Background', gracePeriodSeconds: '', orphanDependents: '', objectDigest: '' },
    requester: { username: 'system:serviceaccount:agents:coder', groups: [] },
    environment: 'production', rule: 'production-delete', message: 'delete apps/deployments shop/web',
    approvalsRequired: 1, signatureRequired: false, expiresAt: at(55),
  },
};
const approval = (decision: 'Approve' | 'Reject', expires = 10): ApprovalObject => ({
  apiVersion: 'countersign.dev/v1alpha1', kind: 'Approval', metadata: { name: `a-${decision}`, namespace: 'countersign' },
  spec: { requestName: request.metadata.name, digest: request.spec.digest, decision, approver: 'sre-a', reason: 'ok', expiresAt: at(expires) },
});

/** A real `ssh-keygen -Y sign` signature by a fresh ed25519 key (its key is what tells approvals apart). */
function signedByNewKey(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cs-plugin-'));
  try {
    const key = join(dir, 'id');
    expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status).toBe(0);
    writeFileSync(join(dir, 'payload'), 'payload');
    expect(spawnSync('ssh-keygen', ['-Y', 'sign', '-f', key, '-n', 'countersign.dev', join(dir, 'payload')]).status).toBe(0);
    return readFileSync(join(dir, 'payload.sig'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the phase a person sees is the gate\'s answer', () => {
  const twoSigned = { ...request, spec: { ...request.spec, approvalsRequired: 2, signatureRequired: true } };
  const by = (approver: string, armored: string, name = approver): ApprovalObject => {
    const base = approval('Approve');
    return { ...base, metadata: { ...base.metadata, name }, spec: { ...base.spec, approver, signature: { armored } } };
  };

  it('counts two approvers signing with one key once, and two keys twice', () => {
    const one = signedByNewKey();
    expect(effectivePhase(twoSigned, [by('sre-a', one), by('sre-b', one)], NOW)).toBe('Pending');
    expect(effectivePhase(twoSigned, [by('sre-a', one), by('sre-b', signedByNewKey())], NOW)).toBe('Approved');
    expect(effectivePhase(twoSigned, [by('sre-a', one), by('sre-b', 'not a signature')], NOW)).toBe('Pending');
  });

  it('never counts the requester approving itself, and shows a live quota as approved', () => {
    const self = { ...approval('Approve'), spec: { ...approval('Approve').spec, approver: request.spec.requester.username } };
    expect(effectivePhase(request, [self], NOW)).toBe('Pending');
    const quota = { ...approval('Approve'), spec: { ...approval('Approve').spec, quota: { deletes: 3 } } };
    expect(effectivePhase(request, [quota], NOW)).toBe('Approved');
    expect(effectivePhase(request, [{ ...quota, status: { phase: 'Active', used: 3 } }], NOW)).toBe('Pending');
  });
});

describe('kubectl countersign', () => {
  it('prints ages in the past and the future', () => {
    expect(age(at(-5), NOW)).toBe('5m');
    expect(age(at(55), NOW)).toBe('in 55m');
    expect(age(at(0.5), NOW)).toBe('in 30s');
  });

  it('computes the phase from approvals and the clock', () => {
    expect(effectivePhase(request, [], NOW)).toBe('Pending');
    expect(effectivePhase(request, [approval('Approve')], NOW)).toBe('Approved');
    expect(effectivePhase(request, [approval('Approve', -1)], NOW)).toBe('Pending');
    expect(effectivePhase(request, [approval('Reject')], NOW)).toBe('Rejected');
    expect(effectivePhase(request, [], new Date(Date.parse(at(60))))).toBe('Expired');
  });

  it('lists pending requests with requester, action, environment and expiry', () => {
    const text = listRequests([request], [], { allNamespaces: true, all: false, output: 'table' }, NOW);
    expect(text).toContain('cs-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');
    expect(text).toContain('DELETE apps/deployments shop/web');
    expect(text).toContain('in 55m');
    expect(listRequests([request], [approval('Approve')], { allNamespaces: true, all: false, output: 'table' }, NOW)).toBe('No pending approval requests.\n');
    expect(JSON.parse(listRequests([request], [], { allNamespaces: true, all: true, output: 'json' }, NOW))).toHaveLength(1);
  });

  it('escapes control characters an agent could put in names', () => {
    const sneaky = { ...request, spec: { ...request.spec, action: { ...request.spec.action, name: 'web\r\u001b[2Kfine' } } };
    const text = listRequests([sneaky], [], { allNamespaces: true, all: false, output: 'table' }, NOW);
    expect(text.includes('\r') || text.includes('\u001b')).toBe(false);
    expect(text).toContain('web\\u000d\\u001b[2Kfine');
  });

  it('shows what the guard recorded, including the object it is bound to', () => {
    const text = showRequest(request, [approval('Approve')], 'table', NOW);
    expect(text).toContain('Object:        uid u, resourceVersion 7, propagation Background');
    expect(text).toContain('Approve by sre-a');
  });
});
