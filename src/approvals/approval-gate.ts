// An agent's gated action: record the request (never on dry runs), or, on the retry, find enough live approvals
// for exactly this action and consume them atomically. Anything unclear refuses. Finding and using are apart
// (checkApprovalGate, then `use`) so that a caller with more to do before the request may go through (counting it
// against a bulk budget) uses a human's approval only once nothing else can refuse the request.
import type { AdmissionRequest } from '../kube/types.js';
import type { Config } from '../config/schema.js';
import { coveredByQuota, findQuota, quotaDryRun } from './quota.js';
import type { Decision } from '../core/decide.js';
import { summarizeChange, type ChangeSummary } from './change-summary.js';
import { evaluateGate, type GateState } from './gate.js';
import { approvalRequestFor } from './request-record.js';
import type { AuditTrail } from '../audit/trail.js';
import { approvalFields, auditStep, requestFields } from './audit-step.js';
import type { SignatureVerifier } from './signatures.js';
import type { ApprovalStore } from './store.js';
import { requestNameFor, type ApprovalObject, type ApprovalRequestObject } from './types.js';
import { present } from '../kube/present.js';

export interface GateDeps {
  store: ApprovalStore;
  verifySignature: SignatureVerifier;
  now: () => Date;
  /** This process's hash-chained audit trail of approval steps. */
  audit: AuditTrail;
}

function approveCommand(name: string, signature: boolean): string {
  return `kubectl countersign approve ${name} --reason "<why this is safe>"${signature ? ' --sign-key <ssh key>' : ''}`;
}

function refuse(decision: Decision, detail: string): Decision {
  const message = `${decision.status?.message ?? ''} ${detail}`.trim();
  return { ...decision, allowed: false, status: { code: 403, reason: 'Forbidden', message } };
}

function pendingDetail(request: ApprovalRequestObject, have: number): string {
  const { metadata, spec } = request;
  const signed = spec.signatureRequired ? ', SSH-signed' : '';
  return (
    `Approval request ${metadata.name} is pending (${have} of ${spec.approvalsRequired} approvals${signed}). ` +
    `A human who may approve "${spec.environment}" runs: ${approveCommand(metadata.name, spec.signatureRequired)} ` +
    `- then retry exactly the same command. It expires at ${spec.expiresAt}.`
  );
}

/** Marks the approvals used, one by one: those marked, and the one a concurrent request got first, if any. */
async function consume(use: ApprovalObject[], deps: GateDeps, uid: string): Promise<{ spent: ApprovalObject[]; lost?: ApprovalObject }> {
  const spent: ApprovalObject[] = [];
  for (const approval of use) {
    if (!(await deps.store.markUsed(approval, uid, deps.now()))) return { spent, lost: approval };
    spent.push(approval);
  }
  return { spent };
}

function approvedDecision(decision: Decision, use: ApprovalObject[], dryRun: boolean): Decision {
  const names = use.map((a) => a.metadata.name).join(',');
  const approvers = use.map((a) => a.spec.approver).join(',');
  const note = dryRun
    ? `dry run: Countersign would allow this request with approval ${names} by ${approvers} (not used by a dry run).`
    : `Countersign: allowed with approval ${names} by ${approvers}, now used.`;
  const { status, ...rest } = decision;
  return {
    ...rest,
    allowed: true,
    warnings: [note],
    auditAnnotations: { ...decision.auditAnnotations, decision: 'allowed', approvals: names, approvers },
  };
}

/** Deletes a request whose expiry has passed, and says so in the audit trail and an Event. */
async function collectExpired(request: ApprovalRequestObject, deps: GateDeps): Promise<void> {
  await deps.store.deleteRequest(request.metadata.name);
  const phase = request.status?.phase ?? 'Pending';
  await auditStep(deps, {
    event: 'request-expired', fields: { ...requestFields(request), phase, expiresAt: request.spec.expiresAt },
    kubeEvent: { request, reason: 'ApprovalRequestExpired', message: `expired at ${request.spec.expiresAt} (${phase}) and was deleted` },
  });
}

/** Counts a requester's pending requests, deleting its expired ones on the way (collection happens as they write). */
async function openRequestsOf(username: string, deps: GateDeps): Promise<number> {
  const now = deps.now().getTime();
  let open = 0;
  for (const request of await deps.store.listRequestsOf(username)) {
    if (Date.parse(request.spec.expiresAt) <= now) await collectExpired(request, deps);
    else if ((request.status?.phase ?? 'Pending') === 'Pending') open += 1;
  }
  return open;
}

function changeOf(request: AdmissionRequest): { change?: ChangeSummary } {
  const change = summarizeChange(request);
  return change === undefined ? {} : { change };
}

async function recordRequest(request: AdmissionRequest, decision: Decision, config: Config, deps: GateDeps): Promise<ApprovalRequestObject> {
  const { approval, digest } = decision;
  if (approval === undefined || digest === undefined) throw new Error('a require-approval decision without its action');
  // Recorded now, so removing the owner annotation later cannot make the owner an eligible approver.
  const owner = await deps.store.agentOwner(request.userInfo.username);
  const created = approvalRequestFor({
    action: approval.action, digest, groups: request.userInfo.groups,
    ...present({ requesterOwner: owner }),
    approvalsRequired: approval.requirement.approvers, signatureRequired: approval.requirement.signature,
    namespace: config.countersignNamespace,
    expiresAt: new Date(deps.now().getTime() + config.approvals.requestTtlSeconds * 1000),
    ...(changeOf(request)),
  });
  await deps.store.createRequest(created);
  await auditStep(deps, {
    event: 'request-recorded',
    fields: { ...requestFields(created), uid: request.uid, approvalsRequired: created.spec.approvalsRequired, signatureRequired: created.spec.signatureRequired, expiresAt: created.spec.expiresAt },
    kubeEvent: { request: created, reason: 'ApprovalRequested', message: `${approval.action.requester} asked to ${approval.action.message} (rule ${approval.action.rule})` },
  });
  return created;
}

/** A policy tightened while a request was pending applies at once: the stricter of recorded and current. */
function withStricterRequirement(request: ApprovalRequestObject, decision: Decision): ApprovalRequestObject {
  const now = decision.approval?.requirement;
  if (now === undefined) return request;
  return {
    ...request,
    spec: {
      ...request.spec,
      approvalsRequired: Math.max(request.spec.approvalsRequired, now.approvers),
      signatureRequired: request.spec.signatureRequired || now.signature,
    },
  };
}

async function gateState(existing: ApprovalRequestObject, deps: GateDeps): Promise<GateState> {
  // A quota approval is spent through coveredByQuota, never as the single approval of its request.
  const approvals = (await deps.store.listApprovals(existing.metadata.name)).filter((a) => a.spec.quota === undefined);
  const signers = existing.spec.signatureRequired ? await deps.store.allowedSigners() : '';
  return evaluateGate({
    request: existing, approvals, now: deps.now(),
    keyOf: (a) => {
      if (a.spec.signature === undefined) return undefined;
      const verdict = deps.verifySignature(a.spec, signers);
      return verdict.ok ? verdict.keyFingerprint : undefined;
    },
  });
}

/** No request on record for this action: record one (never on a dry run, never past the requester's cap). */
async function askAnew(request: AdmissionRequest, decision: Decision, config: Config, deps: GateDeps): Promise<Decision> {
  if (request.dryRun === true) return refuse(decision, 'No approval request was recorded: dry runs have no side effects.');
  const open = await openRequestsOf(request.userInfo.username, deps);
  if (open >= config.approvals.maxPendingPerRequester) {
    return refuse(decision, `No approval request was recorded: ${request.userInfo.username} already has ${open} pending (approvals.maxPendingPerRequester). Ask a human to decide those first.`);
  }
  return refuse(decision, pendingDetail(await recordRequest(request, decision, config, deps), 0));
}

/** What the gate found: its decision, or live approvals for the request, not used yet. */
type Found = { decision: Decision } | { approvals: ApprovalObject[]; request: ApprovalRequestObject };

/** The request's single-use approvals (quotas aside): a refusal, a dry run's answer, or the approvals to use. */
async function findApprovals(request: AdmissionRequest, decision: Decision, config: Config, deps: GateDeps & { digest: string }): Promise<Found> {
  const dryRun = request.dryRun === true;
  const name = requestNameFor(deps.digest);
  let existing = await deps.store.getRequest(name);
  if (existing !== undefined && Date.parse(existing.spec.expiresAt) <= deps.now().getTime()) {
    // Unapproved requests expire to refused; a new attempt asks anew under the same (digest-derived) name.
    if (!dryRun) await collectExpired(existing, deps);
    existing = undefined;
  }
  if (existing === undefined) return { decision: await askAnew(request, decision, config, deps) };
  // Defence in depth: the stored request must describe exactly this action, whatever its name says.
  if (existing.spec.digest !== deps.digest) {
    return { decision: refuse(decision, `Approval request ${name} records another action (digest ${existing.spec.digest}); refusing.`) };
  }
  const effective = withStricterRequirement(existing, decision);
  const state = await gateState(effective, deps);
  switch (state.state) {
    case 'rejected':
      return { decision: refuse(decision, `Approval request ${name} was rejected by ${state.by.spec.approver}: ${state.by.spec.reason}`) };
    case 'expired':
      return { decision: refuse(decision, `Approval request ${name} expired at ${existing.spec.expiresAt}.`) };
    case 'pending':
      return { decision: refuse(decision, pendingDetail(effective, state.have)) };
    case 'approved':
      return dryRun ? { decision: approvedDecision(decision, state.use, true) } : { approvals: state.use, request: existing };
  }
}

/** Some approvals of a request were marked used, then another went to a concurrent request: they are spent for nothing. */
async function wasted(request: ApprovalRequestObject, what: { spent: ApprovalObject[]; lost: ApprovalObject; uid: string }, deps: GateDeps): Promise<void> {
  await auditStep(deps, {
    event: 'approval-wasted', fields: { ...requestFields(request), ...approvalFields(what.spent), lostTo: what.lost.metadata.name, uid: what.uid },
    kubeEvent: {
      request, reason: 'ApprovalWasted',
      message: `${what.spent.map((a) => a.metadata.name).join(', ')} marked used, but ${what.lost.metadata.name} went to a concurrent request first: the action was refused`,
    },
  });
}

/** Uses the approvals found, by compare-and-swap: allowed, or refused when a concurrent request got one first. */
async function useApprovals(request: AdmissionRequest, decision: Decision, found: Exclude<Found, { decision: Decision }>, deps: GateDeps): Promise<Decision> {
  const { approvals, request: existing } = found;
  const { spent, lost } = await consume(approvals, deps, request.uid);
  if (lost !== undefined) {
    if (spent.length > 0) await wasted(existing, { spent, lost, uid: request.uid }, deps);
    return refuse(decision, `An approval for ${existing.metadata.name} was used by a concurrent request; ask for a new one.`);
  }
  // The approvals are used: the action goes through even if recording the request's phase fails.
  await deps.store.setRequestPhase(existing, 'Used', approvals.map((a) => a.metadata.name), deps.now()).catch(() => undefined);
  await auditStep(deps, {
    event: 'approval-used', fields: { ...requestFields(existing), ...approvalFields(approvals), usedBy: request.userInfo.username, uid: request.uid },
    kubeEvent: {
      request: existing, reason: 'ApprovalUsed',
      message: `${request.userInfo.username} carried out the action with ${approvals.map((a) => `${a.metadata.name} (${a.spec.approver})`).join(', ')}`,
    },
  });
  return approvedDecision(decision, approvals, false);
}

/** The gate, using the approvals (or quota unit) it finds: the decision to answer. */
export async function applyApprovalGate(request: AdmissionRequest, decision: Decision, config: Config, deps: GateDeps): Promise<Decision> {
  const { digest } = decision;
  if (digest === undefined) return decision;
  const quota = await coveredByQuota(request, decision, deps, config);
  if (quota !== undefined) return quota;
  const found = await findApprovals(request, decision, config, { ...deps, digest });
  return 'decision' in found ? found.decision : useApprovals(request, decision, found, deps);
}

/**
 * Live approvals (or a quota unit) would let the request through; none is used yet. `use` runs the gate again on
 * fresh reads and uses them: its answer is allowed only if they were used, refused if meanwhile they were used
 * by a concurrent request, rejected or expired.
 */
export interface ApprovalsToUse {
  use: () => Promise<Decision>;
}

/**
 * The gate without using any approval: its decision (a refusal, a dry run's answer, or the core's own), or the
 * approvals to use once the caller has done whatever else could still refuse the request. Requests are recorded
 * and expired ones collected as by applyApprovalGate.
 */
export async function checkApprovalGate(request: AdmissionRequest, decision: Decision, config: Config, deps: GateDeps): Promise<Decision | ApprovalsToUse> {
  const { digest } = decision;
  if (digest === undefined) return decision;
  const toUse: ApprovalsToUse = { use: () => applyApprovalGate(request, decision, config, deps) };
  const quota = await findQuota(request, decision, deps, config);
  if (quota !== undefined) return request.dryRun === true ? quotaDryRun(quota) : toUse;
  const found = await findApprovals(request, decision, config, { ...deps, digest });
  return 'decision' in found ? found.decision : toUse;
}
