// The phase a person should see, computed from the request, its approvals and the clock (never from text an agent
// could have written).
import type { ApprovalObject, ApprovalRequestObject, RequestPhase } from '../approvals/types.js';

export function approvalsOf(request: ApprovalRequestObject, approvals: readonly ApprovalObject[]): ApprovalObject[] {
  return approvals.filter((a) => a.spec.requestName === request.metadata.name && a.spec.digest === request.spec.digest);
}

export function effectivePhase(request: ApprovalRequestObject, approvals: readonly ApprovalObject[], now: Date): RequestPhase {
  const mine = approvalsOf(request, approvals);
  if (request.status?.phase === 'Used' || mine.some((a) => a.status?.phase === 'Used')) return 'Used';
  if (mine.some((a) => a.spec.decision === 'Reject')) return 'Rejected';
  if (Date.parse(request.spec.expiresAt) <= now.getTime()) return 'Expired';
  const live = mine.filter((a) => a.spec.decision === 'Approve' && Date.parse(a.spec.expiresAt) > now.getTime());
  return new Set(live.map((a) => a.spec.approver)).size >= request.spec.approvalsRequired ? 'Approved' : 'Pending';
}
