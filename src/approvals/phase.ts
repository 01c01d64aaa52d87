// The phase a person sees (`kubectl countersign list` and `show`, the approval gauges), computed with the gate's own
// rule (evaluateGate: distinct approvers and distinct keys, the requester never its own approver, quotas apart)
// from the request, its approvals and the clock, never from text an agent could have written. One difference,
// by design: the gate re-checks a signature against today's allowed signers at use; a reader here takes the key the
// signature names, which admission verified when the Approval was created.
import { claimedSigningKey } from '../ssh/index.js';
import { evaluateGate, type GateState } from './gate.js';
import { quotaRemaining } from './quota.js';
import type { ApprovalObject, ApprovalRequestObject, RequestPhase } from './types.js';

export function approvalsOf(request: ApprovalRequestObject, approvals: readonly ApprovalObject[]): ApprovalObject[] {
  return approvals.filter((a) => a.spec.requestName === request.metadata.name && a.spec.digest === request.spec.digest);
}

const PHASE: Readonly<Record<GateState['state'], RequestPhase>> = { approved: 'Approved', rejected: 'Rejected', expired: 'Expired', pending: 'Pending' };

function signingKey(approval: ApprovalObject): string | undefined {
  return approval.spec.signature === undefined ? undefined : claimedSigningKey(approval.spec.signature.armored);
}

/** A live quota approval of the request covers its retry: the gate spends one of its units then. */
function quotaCovers(request: ApprovalRequestObject, mine: readonly ApprovalObject[], now: Date): boolean {
  return mine.some((a) => a.spec.approver !== request.spec.requester.username && (a.status?.phase ?? 'Active') === 'Active' && quotaRemaining(a, now) > 0);
}

export function effectivePhase(request: ApprovalRequestObject, approvals: readonly ApprovalObject[], now: Date): RequestPhase {
  const mine = approvalsOf(request, approvals);
  if (request.status?.phase === 'Used' || mine.some((a) => a.status?.phase === 'Used')) return 'Used';
  // As the gate does: a quota approval is spent through its units, never as the single approval of its request.
  const state = evaluateGate({ request, approvals: mine.filter((a) => a.spec.quota === undefined), now, keyOf: signingKey });
  if (state.state === 'pending' && quotaCovers(request, mine, now)) return 'Approved';
  return PHASE[state.state];
}
