// Bulk quotas: a human's "up to 40 pod deletes in namespace X for 10 minutes", or "up to 30 more Deployment
// updates in namespace X" once the bulk-change threshold holds an agent. A quota is an Approval of one of the
// agent's gated writes (CREATE, UPDATE or DELETE) carrying spec.quota (its `deletes` field counts covered requests
// of the approved operation, whatever it is); it then covers any request by that agent with the same operation on
// the same resource and subresource in the same namespace, gated by the same rule and by no other rule but rules
// that only count (a quota is itself a count a human granted: it stands in for rate limits on these requests, never
// for capacity removed, a blast radius or anything a rule reads from the object). Counted on the Approval's status
// by compare-and-swap so replicas cannot overspend it.
import type { AdmissionRequest } from '../kube/types.js';
import type { RuleConfig } from '../config/schema.js';
import type { Decision } from '../core/decide.js';
import type { Impact } from '../core/impact.js';
import type { AuditTrail } from '../audit/trail.js';
import { actionLabel, auditStep, requestFields } from './audit-step.js';
import { quotable } from './check-approval.js';
import type { ApprovalStore } from './store.js';
import type { ApprovalObject, ApprovalRequestObject } from './types.js';
import { TIER } from '../config/tiers.js';

const QUOTA_ROUNDS = 3;

export interface QuotaDeps {
  store: ApprovalStore;
  now: () => Date;
  audit: AuditTrail;
}

/** The policy's rules, to tell rules that only count the agent's requests from the rest. */
export interface QuotaPolicy {
  rules: readonly Pick<RuleConfig, 'name' | 'expression'>[];
}

const COUNT_CALL = /agent\.(deletes|changes)\(\s*(['"])[0-9a-z]+\2\s*\)/g;
const PARAM = /params(\.[A-Za-z_][A-Za-z0-9_]*)+/g;
const NUMBER = /\b\d+(\.\d+)?\b/g;
const OPERATORS = /[<>=!]=?|&&|\|\||[()+\-*\s]/g;

/**
 * A rule whose expression compares the agent's request counts (agent.deletes, agent.changes) with numbers and
 * params, and reads nothing else: what it limits is how many, which a quota's own count answers.
 */
export function onlyCounts(expression: string): boolean {
  if (expression.match(COUNT_CALL) === null) return false;
  return expression.replace(COUNT_CALL, '').replace(PARAM, '').replace(NUMBER, '').replace(OPERATORS, '') === '';
}

/**
 * The quota's rule is among those gating the request, and every other rule gating it only counts (so a quota for
 * bulk updates never waives the capacity limit, a blast radius, or an identity a workload would run as).
 */
function gatedOnlyBy(decision: Decision, rule: string, policy: QuotaPolicy): boolean {
  const gates = new Set([decision.rule, ...decision.fired.filter((f) => TIER[f.tier].gated).map((f) => f.rule)]);
  if (!gates.has(rule)) return false;
  const counting = new Set(policy.rules.filter((r) => onlyCounts(r.expression)).map((r) => r.name));
  return [...gates].every((gate) => gate === rule || counting.has(gate));
}

/** Units of a quota approval left to spend now: 0 for an expired one or anything that is not a quota approval. */
export function quotaRemaining(approval: ApprovalObject, now: Date): number {
  const { quota, decision, expiresAt } = approval.spec;
  if (quota === undefined || decision !== 'Approve' || Date.parse(expiresAt) <= now.getTime()) return 0;
  return quota.deletes - (approval.status?.used ?? 0);
}

/**
 * The request the quota approved must be this agent's request with the same operation on the same resource and
 * subresource in the same namespace, gated by the same rule (and otherwise only by counting rules), and no bigger:
 * a quota for cleaning up ConfigMaps does not cover one that owns 5,000 objects, one for image updates does not
 * cover a scale-down that stops pods.
 */
function sameScope(target: ApprovalRequestObject | undefined, approval: ApprovalObject, decision: Decision, policy: QuotaPolicy): boolean {
  const action = decision.approval?.action;
  if (action === undefined || target === undefined || target.spec.digest !== approval.spec.digest) return false;
  if (!gatedOnlyBy(decision, target.spec.rule, policy)) return false;
  const granted = target.spec.action;
  const sameTarget = target.spec.requester.username === action.requester && granted.operation === action.operation &&
    quotable(granted.operation) && granted.namespace === action.namespace && granted.group === action.group &&
    granted.resource === action.resource && granted.subResource === action.subResource;
  return sameTarget && withinImpact(decision.impact, target.spec.impact);
}


function count(impact: Record<string, unknown> | Impact | undefined, key: 'total' | 'boundClaims' | 'deletedVolumes', absent: number): number {
  const value = impact?.[key];
  return typeof value === 'number' ? value : absent;
}

function withinImpact(current: Impact | undefined, approved: Record<string, unknown> | undefined): boolean {
  if (count(current, 'total', 1) > count(approved, 'total', 1)) return false;
  return count(current, 'boundClaims', 0) + count(current, 'deletedVolumes', 0) <= count(approved, 'boundClaims', 0) + count(approved, 'deletedVolumes', 0);
}

/** A rejection of the quota's request stands against the quota too. */
async function rejected(target: ApprovalRequestObject, store: ApprovalStore): Promise<boolean> {
  return (await store.listApprovals(target.metadata.name)).some((a) => a.spec.decision === 'Reject');
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

export interface QuotaAttempt {
  request: AdmissionRequest;
  decision: Decision;
  approval: ApprovalObject;
  /** The request the quota approved. */
  target: ApprovalRequestObject;
  now: Date;
}

/** The quota's request, if this quota covers this request with a unit left. Reads only: nothing is spent. */
async function covers({ decision, approval, now }: Omit<QuotaAttempt, 'target'>, store: ApprovalStore, policy: QuotaPolicy): Promise<ApprovalRequestObject | undefined> {
  if (quotaRemaining(approval, now) <= 0 || decision.approval === undefined) return undefined;
  const target = await store.getRequest(approval.spec.requestName);
  if (target === undefined || !sameScope(target, approval, decision, policy)) return undefined;
  return (await rejected(target, store)) ? undefined : target;
}

function gatedWrite(decision: Decision): boolean {
  const gate = decision.approval;
  return gate !== undefined && quotable(gate.action.operation) && gate.requirement.approvers <= 1 && !gate.requirement.signature;
}

/**
 * A live quota covering the request, or undefined when none does; nothing is spent (see spendQuota). Only an
 * unsigned single-approver requirement can be met by a quota (checked again at the Approval's admission).
 */
export async function findQuota(request: AdmissionRequest, decision: Decision, deps: QuotaDeps, policy: QuotaPolicy): Promise<QuotaAttempt | undefined> {
  if (!gatedWrite(decision)) return undefined;
  const now = deps.now();
  for (const approval of await deps.store.listQuotasFor(request.userInfo.username)) {
    const target = await covers({ request, decision, approval, now }, deps.store, policy);
    if (target !== undefined) return { request, decision, approval, target, now };
  }
  return undefined;
}

/** What a dry run covered by a quota is told: it would be allowed, and nothing is spent. */
export function quotaDryRun({ decision, approval, now }: QuotaAttempt): Decision {
  const total = approval.spec.quota?.deletes ?? 0;
  const note = `dry run: Countersign would allow this request under quota ${approval.metadata.name} by ${approval.spec.approver} ` +
    `(${String(quotaRemaining(approval, now))} of ${String(total)} left; not used by a dry run).`;
  return allowedUnder(decision, approval, note);
}

/**
 * Spends one unit of a quota findQuota found, by compare-and-swap: the allowed decision, or 'lost' when another
 * replica changed the quota since it was read. A dry run spends nothing.
 */
async function spendQuota(attempt: QuotaAttempt, deps: QuotaDeps): Promise<Decision | 'lost'> {
  const { request, decision, approval, now } = attempt;
  if (request.dryRun === true) return quotaDryRun(attempt);
  if (!(await deps.store.useQuota(approval, request.uid, now))) return 'lost';
  const total = approval.spec.quota?.deletes ?? 0;
  const used = total - quotaRemaining(approval, now) + 1;
  const action = decision.approval?.action;
  const target = action === undefined ? '' : actionLabel(action);
  await auditStep(deps, {
    event: 'quota-used',
    fields: { ...requestFields(attempt.target), approvals: [approval.metadata.name], approvers: [approval.spec.approver], usedBy: request.userInfo.username, uid: request.uid, target, used, of: total },
    kubeEvent: { request: attempt.target, reason: 'QuotaUsed', message: `${request.userInfo.username}: ${target} under quota ${approval.metadata.name} by ${approval.spec.approver} (${String(used)} of ${String(total)})` },
  });
  return allowedUnder(decision, approval, `Countersign: allowed under quota ${approval.metadata.name} by ${approval.spec.approver} (${String(used)} of ${String(total)} used).`);
}

/** The decision allowed under a live quota, a unit of it spent, or undefined when none covers it. */
export async function coveredByQuota(request: AdmissionRequest, decision: Decision, deps: QuotaDeps, policy: QuotaPolicy): Promise<Decision | undefined> {
  // Losing a compare-and-swap to another replica is not a refusal: read the quotas again, a unit may be left.
  for (let round = 0; round < QUOTA_ROUNDS; round += 1) {
    const found = await findQuota(request, decision, deps, policy);
    if (found === undefined) return undefined;
    const outcome = await spendQuota(found, deps);
    if (outcome !== 'lost') return outcome;
  }
  return undefined;
}
