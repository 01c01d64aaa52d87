// At the agent's retry: is this exact action covered by enough live approvals? Pure; the edge then consumes them.
import type { ApprovalObject, ApprovalRequestObject } from './types.js';

export type GateState =
  | { state: 'approved'; use: ApprovalObject[] }
  | { state: 'rejected'; by: ApprovalObject }
  | { state: 'expired' }
  | { state: 'pending'; have: number; need: number };

export interface GateInput {
  request: ApprovalRequestObject;
  approvals: readonly ApprovalObject[];
  now: Date;
  /**
   * The verified signing key of an approval, re-checked at use: undefined when the signature is missing or no longer
   * verifies. Approvals must be distinct by key as well as by user.
   */
  keyOf: (approval: ApprovalObject) => string | undefined;
}

function about(approval: ApprovalObject, request: ApprovalRequestObject): boolean {
  return approval.spec.requestName === request.metadata.name && approval.spec.digest === request.spec.digest;
}

function live(approval: ApprovalObject, request: ApprovalRequestObject, now: Date): boolean {
  return (
    about(approval, request) &&
    approval.spec.approver !== request.spec.requester.username &&
    (approval.status?.phase ?? 'Active') === 'Active' &&
    Date.parse(approval.spec.expiresAt) > now.getTime()
  );
}

export function evaluateGate({ request, approvals, now, keyOf }: GateInput): GateState {
  // A rejected request stays rejected, whatever the rejection's own expiry.
  const rejection = approvals.find((a) => about(a, request) && a.spec.decision === 'Reject');
  if (rejection !== undefined) return { state: 'rejected', by: rejection };
  const current = approvals.filter((a) => live(a, request, now));
  if (Date.parse(request.spec.expiresAt) <= now.getTime()) return { state: 'expired' };
  const users = new Set<string>();
  const keys = new Set<string>();
  const use: ApprovalObject[] = [];
  const sorted = current.filter((a) => a.spec.decision === 'Approve').sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const approval of sorted) {
    const key = keyOf(approval);
    if (request.spec.signatureRequired && key === undefined) continue;
    if (users.has(approval.spec.approver) || (key !== undefined && keys.has(key))) continue;
    users.add(approval.spec.approver);
    if (key !== undefined) keys.add(key);
    use.push(approval);
    if (use.length === request.spec.approvalsRequired) return { state: 'approved', use };
  }
  return { state: 'pending', have: use.length, need: request.spec.approvalsRequired };
}
