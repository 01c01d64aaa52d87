// Countersign guards its own resources: requests are written by Countersign alone, approvals only by humans who
// pass every check, and nobody but Countersign changes a status.
import type { AdmissionRequest } from '../kube/types.js';
import type { Config } from '../config/schema.js';
import { checkApproval } from './check-approval.js';
import type { AuditTrail } from '../audit/trail.js';
import { auditStep, requestFields } from './audit-step.js';
import type { SignatureVerifier } from './signatures.js';
import type { ApprovalStore } from './store.js';
import { API_GROUP, type ApprovalObject, type ApprovalRequestObject } from './types.js';
import { sameJson } from '../core/effects/json-compare.js';

export interface OwnResourceDeps {
  store: ApprovalStore;
  verifySignature: SignatureVerifier;
  now: () => Date;
  isAgent: (request: AdmissionRequest) => boolean;
  audit: AuditTrail;
}

export type OwnVerdict = { allowed: true; note?: string } | { allowed: false; message: string };

export function isOwnResource(request: AdmissionRequest): boolean {
  return request.resource.group === API_GROUP;
}

function no(message: string): OwnVerdict {
  return { allowed: false, message: `Countersign refused this change to its own resources: ${message}` };
}

function isApprovalShape(value: unknown): value is ApprovalObject {
  const spec = (value as { spec?: Record<string, unknown> } | null)?.spec;
  return typeof spec === 'object' && ['requestName', 'digest', 'decision', 'approver', 'reason', 'expiresAt'].every((k) => typeof spec[k] === 'string');
}

async function admitApproval(request: AdmissionRequest, config: Config, deps: OwnResourceDeps): Promise<OwnVerdict> {
  const approval = request.object;
  if (!isApprovalShape(approval)) return no('the Approval has no complete spec');
  const target = await deps.store.getRequest(approval.spec.requestName);
  const existing = target === undefined ? [] : await deps.store.listApprovals(target.metadata.name);
  const mayApprove = target === undefined ? false : await deps.store.mayApprove(request.userInfo, target.spec.environment, target.spec.action.namespace);
  const signature = approval.spec.signature === undefined ? undefined : deps.verifySignature(approval.spec, await deps.store.allowedSigners());
  const current = target === undefined ? undefined : await deps.store.agentOwner(target.spec.requester.username);
  const requesterOwners = [target?.spec.requesterOwner, current].filter((owner): owner is string => owner !== undefined);
  const problems = checkApproval({
    approval, creator: request.userInfo.username, creatorIsAgent: false, request: target, existing, mayApprove, signature, requesterOwners,
    now: deps.now(), maxTtlSeconds: config.approvals.maxApprovalTtlSeconds,
  });
  if (problems.length > 0) return no(problems.join('; '));
  // A dry run creates nothing: nothing to record.
  if (target !== undefined && request.dryRun !== true) await admitted(approval, target, { key: signature?.ok === true ? signature.keyFingerprint : undefined, deps });
  return { allowed: true, note: `${approval.spec.decision} of ${approval.spec.requestName} by ${approval.spec.approver}` };
}

/** An approval or rejection passed every check: the apiserver goes on to store it. */
async function admitted(approval: ApprovalObject, target: ApprovalRequestObject, how: { key: string | undefined; deps: OwnResourceDeps }): Promise<void> {
  const approve = approval.spec.decision === 'Approve';
  const { spec } = approval;
  await auditStep(how.deps, {
    event: approve ? 'approval-admitted' : 'rejection-admitted',
    fields: {
      ...requestFields(target), approval: approval.metadata.name, approver: spec.approver, reason: spec.reason, expiresAt: spec.expiresAt,
      signingKey: how.key, ...(spec.quota === undefined ? {} : { quotaDeletes: spec.quota.deletes }),
    },
    kubeEvent: { request: target, reason: approve ? 'Approved' : 'Rejected', message: `${spec.approver} ${approve ? 'approved' : 'rejected'}: ${spec.reason}` },
  });
}

function isApprovalCreate(request: AdmissionRequest): boolean {
  return request.resource.resource === 'approvals' && request.operation === 'CREATE' && (request.subResource ?? '') === '';
}

/** Someone tried to approve or reject and was refused: the attempt is part of the record (no Event: nothing exists). */
function refused(request: AdmissionRequest, message: string, deps: OwnResourceDeps): void {
  const spec = (request.object as { spec?: Record<string, unknown> } | null | undefined)?.spec;
  const text = (key: string): string | undefined => (typeof spec?.[key] === 'string' ? spec[key] : undefined);
  deps.audit.record('approval-refused', {
    request: text('requestName'), digest: text('digest'), decision: text('decision'), approver: text('approver'),
    approval: request.name ?? '', creator: request.userInfo.username, uid: request.uid, why: message, ...(request.dryRun === true ? { dryRun: true } : {}),
  });
}

/** A rejection and a used approval are the record: nobody but Countersign removes them. */
function admitDelete(request: AdmissionRequest): OwnVerdict {
  const old = request.oldObject as Partial<ApprovalObject> | null | undefined;
  if (request.resource.resource !== 'approvals' || old?.spec === undefined) return { allowed: true };
  if (old.spec.decision === 'Reject') return no('a rejection stands; it cannot be deleted');
  if (old.status?.phase === 'Used') return no('a used approval is part of the record; it cannot be deleted');
  return { allowed: true };
}

export async function admitOwnResource(request: AdmissionRequest, config: Config, deps: OwnResourceDeps): Promise<OwnVerdict> {
  const verdict = await judgeOwnResource(request, config, deps);
  if (!verdict.allowed && isApprovalCreate(request)) refused(request, verdict.message, deps);
  return verdict;
}

async function judgeOwnResource(request: AdmissionRequest, config: Config, deps: OwnResourceDeps): Promise<OwnVerdict> {
  const self = `system:serviceaccount:${config.countersignNamespace}:${config.approvals.serviceAccount}`;
  if (request.userInfo.username === self) return { allowed: true };
  if (deps.isAgent(request)) return no('agents may not create, change or delete approvals or approval requests');
  if ((request.subResource ?? '') === 'status') return no('only Countersign sets a status');
  if (request.operation === 'DELETE') return admitDelete(request);
  if (request.resource.resource === 'approvalrequests' && request.operation === 'CREATE') return no('approval requests are recorded by Countersign only');
  if (request.namespace !== config.countersignNamespace) return no(`approvals live in namespace ${config.countersignNamespace}`);
  return request.operation === 'CREATE' ? admitApproval(request, config, deps) : admitUpdate(request);
}

/** Even if the CRD's own immutability rule were removed, spec and status do not change here; metadata may. */
function admitUpdate(request: AdmissionRequest): OwnVerdict {
  const [now, before] = [request.object as Partial<ApprovalObject> | null, request.oldObject as Partial<ApprovalObject> | null];
  if (!sameJson(now?.spec, before?.spec) || !sameJson(now?.status, before?.status)) return no('spec and status cannot be changed');
  return { allowed: true };
}
