// The approval flow's moving parts for unit tests: the agent's attempt through the gate, a human's Approval, and
// its admission, all over the in-memory store.
import type { AdmissionRequest } from '../../src/kube/types.js';
import { admitOwnResource } from '../../src/approvals/admit-own-resources.js';
import { applyApprovalGate, type GateDeps } from '../../src/approvals/approval-gate.js';
import { signatureVerifier } from '../../src/approvals/signatures.js';
import type { ApprovalObject, ApprovalSpec } from '../../src/approvals/types.js';
import type { Judge } from '../../src/core/decide.js';
import { auditTrail, type AuditTrail } from '../../src/audit/trail.js';
import { createLogger } from '../../src/observability/logger.js';
import { heldOutReview, namespaceNamed, offline } from './fixtures.js';
import type { MemoryStore } from './memory-store.js';

export const NOW = new Date('2026-11-21T10:00:00Z');
export const minutes = (n: number): string => new Date(NOW.getTime() + n * 60_000).toISOString();

/** Where the unit tests' audit lines go when a test does not look at them. */
const SILENT_TRAIL = auditTrail(createLogger('silent'), { replica: 'unit', nonce: 'unit' });

export function deps(store: MemoryStore, now = NOW, audit: AuditTrail = SILENT_TRAIL): GateDeps {
  return { store, verifySignature: signatureVerifier('countersign.dev', () => now), now: () => now, audit };
}

export async function attempt(judge: Judge, store: MemoryStore, request: AdmissionRequest, now = NOW): Promise<ReturnType<Judge['decide']>> {
  const namespace = namespaceNamed(request.namespace ?? '');
  const decision = judge.decide(namespace === undefined ? { request, ...offline(request) } : { request, namespace, ...offline(request) });
  return applyApprovalGate(request, decision, judge.policy.config, deps(store, now));
}

export interface Gated {
  review: AdmissionRequest;
  about: { requestName: string; digest: string };
}

/** The agent's first attempt at a fixture's action, recorded as a pending request in the store. */
export async function gated(judge: Judge, store: MemoryStore, fixture = 'agent-delete-production-deployment'): Promise<Gated> {
  const review = heldOutReview(fixture).request;
  await attempt(judge, store, review);
  const request = [...store.requests.values()][0]!;
  return { review, about: { requestName: request.metadata.name, digest: request.spec.digest } };
}

export function approval(name: string, spec: Partial<ApprovalSpec> & Pick<ApprovalSpec, 'requestName' | 'digest'>): ApprovalObject {
  return {
    apiVersion: 'countersign.dev/v1alpha1', kind: 'Approval',
    metadata: { name, namespace: 'countersign' },
    spec: { decision: 'Approve', approver: 'sre-a', reason: 'planned maintenance', expiresAt: minutes(10), ...spec },
  };
}

export function creating(object: ApprovalObject, username: string): AdmissionRequest {
  return {
    uid: 'a1', kind: { group: 'countersign.dev', version: 'v1alpha1', kind: 'Approval' },
    resource: { group: 'countersign.dev', version: 'v1alpha1', resource: 'approvals' },
    namespace: 'countersign', name: object.metadata.name, operation: 'CREATE',
    userInfo: { username, groups: username.startsWith('system:serviceaccount:agents:') ? ['system:serviceaccounts'] : ['sre'] },
    object: object as unknown as AdmissionRequest['object'],
  };
}


export async function admit(judge: Judge, store: MemoryStore, object: ApprovalObject, user: string): Promise<{ allowed: boolean; message?: string }> {
  return admitOwnResource(creating(object, user), judge.policy.config, { ...deps(store), isAgent: (r) => judge.isAgent(r) });
}
