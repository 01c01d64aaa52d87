// Bulk quotas: a human's "up to 40 pod deletes in namespace X for 10 minutes". A quota is an Approval of one of
// the agent's gated deletes carrying spec.quota; it then covers any delete by that agent of the same resource in
// the same namespace, counted on the Approval's status by compare-and-swap so replicas cannot overspend it.
import type { AdmissionRequest } from '../admission/types.js';
import type { Decision } from '../core/decide.js';
import type { ActionRecord } from '../core/digest.js';
import type { ApprovalStore } from './store.js';
import type { ApprovalObject, ApprovalRequestObject } from './types.js';

export interface QuotaDeps {
  store: ApprovalStore;
  now: () => Date;
}

function remaining(approval: ApprovalObject, now: Date): number {
  const { quota, decision, expiresAt } = approval.spec;
  if (quota === undefined || decision !== 'Approve' || Date.parse(expiresAt) <= now.getTime()) return 0;
  return quota.deletes - (approval.status?.used ?? 0);
}

/** The request the quota approved must be this agent's delete of the same resource in the same namespace. */
function sameScope(target: ApprovalRequestObject | undefined, approval: ApprovalObject, action: ActionRecord): boolean {
  if (target === undefined || target.spec.digest !== approval.spec.digest) return false;
  const granted = target.spec.action;
  return (
    target.spec.requester.username === action.requester && granted.operation === 'DELETE' &&
    granted.namespace === action.namespace && granted.group === action.group && granted.resource === action.resource
  );
}

function allowedUnder(decision: Decision, approval: ApprovalObject, note: string): Decision {
  const { status, ...rest } = decision;
  return {
    ...rest,
    allowed: true,
    warnings: [note],
    auditAnnotations: { ...decision.auditAnnotations, decision: 'allowed', approvals: approval.metadata.name, approvers: approval.spec.approver, quota: 'true' },
  };
}

/**
 * The decision allowed under a live quota, or undefined when none covers it. Only an unsigned single-approver
 * requirement can be met by a quota (checked again at the Approval's admission).
 */
export async function coveredByQuota(request: AdmissionRequest, decision: Decision, deps: QuotaDeps): Promise<Decision | undefined> {
  const gate = decision.approval;
  if (gate === undefined || gate.action.operation !== 'DELETE' || gate.requirement.approvers > 1 || gate.requirement.signature) return undefined;
  const now = deps.now();
  for (const approval of await deps.store.listQuotasFor(request.userInfo.username)) {
    const left = remaining(approval, now);
    if (left <= 0 || !sameScope(await deps.store.getRequest(approval.spec.requestName), approval, gate.action)) continue;
    const total = approval.spec.quota?.deletes ?? 0;
    if (request.dryRun === true) {
      return allowedUnder(decision, approval, `dry run: Countersign would allow this request under quota ${approval.metadata.name} by ${approval.spec.approver} (${String(left)} of ${String(total)} left; not used by a dry run).`);
    }
    if (await deps.store.useQuota(approval, request.uid, now)) {
      return allowedUnder(decision, approval, `Countersign: allowed under quota ${approval.metadata.name} by ${approval.spec.approver} (${String(total - left + 1)} of ${String(total)} used).`);
    }
  }
  return undefined;
}
