// One admission decision into the metrics, at the edge: the core stays pure and never sees a counter.
import type { AdmissionRequest } from '../kube/types.js';
import { BUDGET_UNAVAILABLE, IDENTITY_UNAVAILABLE, IMPACT_UNAVAILABLE, type Decision } from '../core/decide.js';
import { metricResourceLabel } from '../core/describe.js';
import { NOT_AN_AGENT, type FailClosedReason, type Metrics } from './metrics.js';
import { TIER } from '../config/tiers.js';

export interface DecisionOutcome {
  request: AdmissionRequest;
  decision: Decision;
  seconds: number;
  knownEnvironments: readonly string[];
  /** Set by the edge when it refused the request because something it needed failed (the core says so itself). */
  failure?: FailClosedReason;
}

function environmentLabel(decision: Decision, known: readonly string[]): string {
  if (decision.environment === '') return 'none';
  return known.includes(decision.environment) ? decision.environment : 'other';
}

/** The core's own refusals of what it could not judge: no impact, no budget, or a rule over its time budget. */
function coreFailure(decision: Decision): FailClosedReason {
  if (decision.rule === IMPACT_UNAVAILABLE) return 'impact-unavailable';
  if (decision.rule === BUDGET_UNAVAILABLE) return 'budget-unavailable';
  if (decision.rule === IDENTITY_UNAVAILABLE) return 'identity-unavailable';
  return 'rule-timeout';
}

/** Why the request was refused for want of a judgement, or undefined when it was judged. */
export function failClosedReason(decision: Decision, failure: FailClosedReason | undefined): FailClosedReason | undefined {
  if (decision.allowed || !decision.errored) return undefined;
  return failure ?? coreFailure(decision);
}

/** A gated request let through by a human's approval: its tier stays require-approval, its outcome is allowed. */
function recordApproval(metrics: Metrics, decision: Decision, agent: string): void {
  if (!decision.allowed || !TIER[decision.tier].gated || decision.dryRun) return;
  metrics.approvalsGranted.inc({ agent });
  if (decision.auditAnnotations.quota === 'true') metrics.quotaUses.inc({ agent });
}

function recordImpact(metrics: Metrics, decision: Decision): void {
  if (TIER[decision.tier].allowed) return;
  if (decision.impact === undefined || decision.impact.total <= 0 || decision.dryRun) return;
  metrics.gatedImpact.observe({ tier: decision.tier }, decision.impact.total);
}

export function recordDecision(metrics: Metrics, outcome: DecisionOutcome): void {
  const { request, decision, seconds } = outcome;
  const result = decision.allowed ? 'allowed' : 'denied';
  const agent = decision.requester.isAgent ? metrics.agentLabel(decision.requester.username) : NOT_AN_AGENT;
  metrics.decisions.inc({
    decision: result, tier: decision.tier, operation: request.operation, resource: metricResourceLabel(request),
    environment: environmentLabel(decision, outcome.knownEnvironments), rule: decision.rule, dry_run: String(decision.dryRun), agent,
  });
  metrics.decisionSeconds.observe({ decision: result }, seconds);
  const reason = failClosedReason(decision, outcome.failure);
  // Countersign's own failures; a dependency that is unavailable (picture, budgets, approvals) is fail-closed only.
  if (decision.errored && (reason === undefined || reason === 'internal-error')) metrics.reviewErrors.inc({ reason: 'internal' });
  if (reason !== undefined) metrics.failClosed.inc({ reason, agent });
  recordImpact(metrics, decision);
  recordApproval(metrics, decision, agent);
}
