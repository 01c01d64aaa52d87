// Whether a human's Approval may be admitted. Pure: the edge supplies the referenced request, the RBAC answer and
// the signature check; every problem is reported with the field it concerns.
import { MAX_QUOTA_DELETES, QUOTA_LABEL, requesterLabelValue, type ApprovalObject, type ApprovalRequestObject } from './types.js';

export interface SignatureVerdict {
  ok: boolean;
  reason?: string;
  keyFingerprint?: string;
}

export interface ApprovalCheck {
  approval: ApprovalObject;
  creator: string;
  creatorIsAgent: boolean;
  request: ApprovalRequestObject | undefined;
  /** Other approvals already recorded for the same request. */
  existing: readonly ApprovalObject[];
  /** SubjectAccessReview: may the creator `approve` this environment in the target namespace? */
  mayApprove: boolean;
  signature: SignatureVerdict | undefined;
  /** The humans who issued the requesting agent's credentials: recorded in the request, and recorded now. */
  requesterOwners?: readonly string[];
  now: Date;
  maxTtlSeconds: number;
}

function expiryProblems(expiresAt: string, now: Date, maxTtlSeconds: number): string[] {
  const at = Date.parse(expiresAt);
  if (Number.isNaN(at)) return [`spec.expiresAt: not a timestamp (${JSON.stringify(expiresAt)})`];
  if (at <= now.getTime()) return [`spec.expiresAt: ${expiresAt} is already past`];
  const latest = now.getTime() + maxTtlSeconds * 1000;
  if (at > latest) return [`spec.expiresAt: ${expiresAt} is more than ${maxTtlSeconds} s away (approvals.maxApprovalTtlSeconds)`];
  return [];
}

function requestProblems(check: ApprovalCheck, request: ApprovalRequestObject): string[] {
  const { spec } = check.approval;
  const problems: string[] = [];
  if (spec.digest !== request.spec.digest) {
    problems.push(`spec.digest: ${spec.digest} is not the digest of ${request.metadata.name} (${request.spec.digest})`);
  }
  if (check.creator === request.spec.requester.username) problems.push('a requester may not approve its own request');
  if ((check.requesterOwners ?? []).includes(check.creator)) {
    problems.push(`${check.creator} owns ${request.spec.requester.username} (it acts for them): an agent's owner may not approve its requests`);
  }
  const phase = request.status?.phase ?? 'Pending';
  if (phase === 'Used' || phase === 'Rejected') problems.push(`spec.requestName: ${request.metadata.name} is already ${phase.toLowerCase()}`);
  if (Date.parse(request.spec.expiresAt) <= check.now.getTime()) problems.push(`spec.requestName: ${request.metadata.name} expired at ${request.spec.expiresAt}`);
  // An approval may not outlive the request it answers (a re-recorded request must be approved anew).
  if (Date.parse(spec.expiresAt) > Date.parse(request.spec.expiresAt)) {
    problems.push(`spec.expiresAt: ${spec.expiresAt} is after the request expires (${request.spec.expiresAt})`);
  }
  if (check.existing.some((a) => a.spec.approver === check.creator && a.metadata.name !== check.approval.metadata.name)) {
    problems.push(`${check.creator} has already decided on ${request.metadata.name}`);
  }
  if (!check.mayApprove) {
    problems.push(
      `${check.creator} may not approve actions in environment "${request.spec.environment}" of namespace "${request.spec.action.namespace}" ` +
      `(RBAC: verb "approve" on countersign.dev "environments", resourceName "${request.spec.environment}")`,
    );
  }
  return problems;
}

function signatureProblems(check: ApprovalCheck, request: ApprovalRequestObject): string[] {
  // A rejection only ever makes things safer: it needs no signature.
  if (check.approval.spec.decision === 'Reject') return [];
  if (check.signature === undefined) {
    return request.spec.signatureRequired ? [`spec.signature: rule ${request.spec.rule} requires an SSH signature (kubectl countersign approve --sign-key FILE)`] : [];
  }
  return check.signature.ok ? [] : [`spec.signature: ${check.signature.reason ?? 'does not verify'}`];
}

/** The operations a quota may cover: writes (a CONNECT runs code in a workload; each needs its own approval). */
export function quotable(operation: string): boolean {
  return operation === 'CREATE' || operation === 'UPDATE' || operation === 'DELETE';
}

/** A quota stands in for one approver's unsigned approval of writes like its request's: nothing stronger. */
function quotaProblems(approval: ApprovalObject, request: ApprovalRequestObject): string[] {
  const { quota } = approval.spec;
  if (quota === undefined) return [];
  const problems: string[] = [];
  if (approval.spec.decision !== 'Approve') problems.push('spec.quota: only an approval can carry a quota');
  if (!Number.isInteger(quota.deletes) || quota.deletes < 1 || quota.deletes > MAX_QUOTA_DELETES) {
    problems.push(`spec.quota.deletes: must be a whole number from 1 to ${String(MAX_QUOTA_DELETES)}`);
  }
  if (!quotable(request.spec.action.operation)) {
    problems.push(`spec.quota: ${request.metadata.name} is a ${request.spec.action.operation}; quotas cover creates, updates and deletes only`);
  }
  if (request.spec.approvalsRequired > 1 || request.spec.signatureRequired) {
    problems.push(`spec.quota: rule ${request.spec.rule} requires ${String(request.spec.approvalsRequired)} approver(s)${request.spec.signatureRequired ? ' and a signature' : ''}; a quota cannot stand in for that`);
  }
  const label = approval.metadata.labels?.[QUOTA_LABEL];
  const expected = requesterLabelValue(request.spec.requester.username);
  if (label !== expected) problems.push(`metadata.labels["${QUOTA_LABEL}"]: must be "${expected}" (the requester of ${request.metadata.name})`);
  return problems;
}

export function checkApproval(check: ApprovalCheck): string[] {
  const { spec } = check.approval;
  if (check.creatorIsAgent) return ['agents may not approve or reject requests'];
  const problems: string[] = [];
  if (spec.approver !== check.creator) {
    problems.push(`spec.approver: must be the user creating the approval ("${check.creator}"), not "${spec.approver}"`);
  }
  problems.push(...expiryProblems(spec.expiresAt, check.now, check.maxTtlSeconds));
  if (check.request === undefined) {
    problems.push(`spec.requestName: no ApprovalRequest named "${spec.requestName}"`);
    return problems;
  }
  return [
    ...problems, ...requestProblems(check, check.request), ...signatureProblems(check, check.request),
    ...quotaProblems(check.approval, check.request),
  ];
}
