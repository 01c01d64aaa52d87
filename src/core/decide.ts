// The decision core: decoded request in, decision out. Pure: no network, no clock, no globals.
// decode -> classify requester -> resolve environment -> match and evaluate rules -> the most severe tier decides.
import type { AdmissionRequest, KubeObject } from '../admission/types.js';
import type { CelVariables } from '../cel/environment.js';
import { toCel } from '../cel/values.js';
import type { ApprovalRequirement, Tier } from '../config/schema.js';
import type { CompiledPolicy } from '../policy/types.js';
import { describeAction } from './describe.js';
import { actionRecord, sha256Digest, type ActionRecord } from './digest.js';
import { environmentResolver, namespaceOfRequest } from './environment.js';
import { evaluateRules, RuleTimeout, type RuleOutcome } from './evaluate-rules.js';
import { agentMatcher, type Requester } from './requester.js';
import { ruleMatches } from './resource-match.js';

export interface Decision {
  allowed: boolean;
  /** `allow` for requests no rule gated, including every non-agent request. */
  tier: Tier;
  /** The deciding rule, `default` when no rule fired, `non-agent` when the requester is not an agent. */
  rule: string;
  environment: string;
  requester: Requester;
  dryRun: boolean;
  status?: { code: number; reason: string; message: string };
  warnings: string[];
  auditAnnotations: Record<string, string>;
  digest?: string;
  /** For require-approval: what a human must approve, and how many humans, signed or not. */
  approval?: { action: ActionRecord; requirement: ApprovalRequirement };
  /** Every rule that fired, for the record. */
  fired: { rule: string; tier: Tier; error?: string }[];
  /** True when Countersign itself failed and refused the request because of it. */
  errored: boolean;
}

export interface DecisionInput {
  request: AdmissionRequest;
  /** The request's Namespace from the cluster picture, when the request is namespaced. */
  namespace?: KubeObject;
}

export interface Judge {
  readonly policy: CompiledPolicy;
  isAgent(request: AdmissionRequest): boolean;
  decide(input: DecisionInput): Decision;
}

const SEVERITY: Record<Tier, number> = { allow: 0, audit: 1, 'require-approval': 2, deny: 3 };

/** Among equally severe rules the first in the policy decides (its approval requirement applies). */
function mostSevere(fired: readonly RuleOutcome[]): RuleOutcome | undefined {
  let top: RuleOutcome | undefined;
  for (const outcome of fired) {
    if (top === undefined || SEVERITY[outcome.rule.config.tier] > SEVERITY[top.rule.config.tier]) top = outcome;
  }
  return top;
}

function celVariables(policy: CompiledPolicy, input: DecisionInput, environment: string, requester: Requester): CelVariables {
  const { object, oldObject, ...attributes } = input.request;
  return {
    // ValidatingAdmissionPolicy's typed request always has these fields, empty when unset; expressions rely on it.
    request: toCel({ name: '', namespace: '', subResource: '', dryRun: false, ...attributes }),
    object: toCel(object ?? null),
    oldObject: toCel(oldObject ?? null),
    namespaceObject: toCel(input.namespace ?? null),
    params: policy.params,
    environment,
    agent: toCel({ username: requester.username, groups: requester.groups, serviceAccount: requester.serviceAccount ?? null }),
    countersign: policy.countersign,
  };
}

interface Verdict {
  tier: Tier;
  rule: string;
  message: string;
  requirement?: ApprovalRequirement;
}

function verdictOf(top: RuleOutcome | undefined, description: string): Verdict {
  if (top === undefined) return { tier: 'allow', rule: 'default', message: description };
  const { tier, name, approval } = top.rule.config;
  return { tier, rule: name, message: top.message ?? description, requirement: approval };
}

function verdictMessage(verdict: Verdict, digest: string | undefined): string {
  switch (verdict.tier) {
    case 'deny':
      return `Countersign denied this request (rule ${verdict.rule}): ${verdict.message}`;
    case 'require-approval':
      return (
        `Countersign requires a human approval for this request (rule ${verdict.rule}): ${verdict.message}. ` +
        `Request digest: ${digest ?? ''}.`
      );
    default:
      return `Countersign audit (rule ${verdict.rule}): ${verdict.message}`;
  }
}

function dryRunWarning(verdict: Verdict): string {
  const what: Record<Tier, string> = {
    allow: 'allow this request',
    audit: 'allow this request and record it for audit',
    'require-approval': 'refuse this request until a human approves it',
    deny: 'deny this request',
  };
  return `dry run: Countersign would ${what[verdict.tier]} (rule ${verdict.rule}).`;
}

export function createJudge(policy: CompiledPolicy): Judge {
  const agents = agentMatcher(policy.config.agents);
  const environments = environmentResolver(policy.config.environments);
  const budget = policy.config.evaluation.budgetMilliseconds;

  function decideForAgent(input: DecisionInput, requester: Requester): Decision {
    const { request } = input;
    const dryRun = request.dryRun === true;
    const environment = environments.resolve(request, namespaceOfRequest(request, input.namespace));
    const candidates = policy.rules.filter((rule) => ruleMatches(rule.config.match, request, environment));
    const base = { requester, environment, dryRun };
    let outcomes: RuleOutcome[] = [];
    if (candidates.length > 0) {
      try {
        outcomes = evaluateRules(candidates, celVariables(policy, input, environment, requester), budget);
      } catch (error: unknown) {
        if (!(error instanceof RuleTimeout)) throw error;
        return refusedOnError({ ...base, rule: error.rule.config.name }, error.message);
      }
    }
    const fired = outcomes.filter((o) => o.fired);
    const verdict = verdictOf(mostSevere(fired), describeAction(request, environment));
    const action = verdict.tier === 'require-approval' ? actionRecord(request, { environment, rule: verdict.rule, message: verdict.message }) : undefined;
    const digest = action === undefined ? undefined : sha256Digest(action);
    const allowed = verdict.tier === 'allow' || verdict.tier === 'audit';
    // Audit warnings accompany what was allowed; on a refusal they would only bury the reason.
    const warnings = fired
      .filter((o) => allowed && o.rule.config.tier === 'audit')
      .map((o) => verdictMessage({ tier: 'audit', rule: o.rule.config.name, message: o.message ?? describeAction(request, environment) }, undefined));
    if (dryRun) warnings.unshift(dryRunWarning(verdict));
    const auditAnnotations: Record<string, string> = {
      decision: allowed ? 'allowed' : 'denied',
      tier: verdict.tier,
      rule: verdict.rule,
      environment,
      agent: requester.username,
    };
    if (digest !== undefined) auditAnnotations.digest = digest;
    return {
      ...base,
      allowed,
      tier: verdict.tier,
      rule: verdict.rule,
      warnings,
      auditAnnotations,
      errored: false,
      fired: fired.map((o) => ({ rule: o.rule.config.name, tier: o.rule.config.tier, ...(o.error === undefined ? {} : { error: o.error }) })),
      ...(digest === undefined ? {} : { digest }),
      ...(action === undefined || verdict.requirement === undefined ? {} : { approval: { action, requirement: verdict.requirement } }),
      ...(allowed ? {} : { status: { code: 403, reason: 'Forbidden', message: verdictMessage(verdict, digest) } }),
    };
  }

  return {
    policy,
    isAgent: (request) => agents.classify(request.userInfo).isAgent,
    decide(input) {
      const requester = agents.classify(input.request.userInfo);
      if (!requester.isAgent) return allowNonAgent(requester, input.request.dryRun === true);
      return decideForAgent(input, requester);
    },
  };
}

function allowNonAgent(requester: Requester, dryRun: boolean): Decision {
  return {
    allowed: true, tier: 'allow', rule: 'non-agent', environment: '', requester, dryRun,
    warnings: [], auditAnnotations: {}, fired: [], errored: false,
  };
}

/** Countersign could not judge an agent's request: refuse it explicitly (fail closed), saying why. */
export function refusedOnError(
  base: { requester: Requester; environment: string; dryRun: boolean; rule: string },
  reason: string,
): Decision {
  return {
    ...base,
    allowed: false,
    tier: 'deny',
    warnings: [],
    auditAnnotations: { decision: 'denied', rule: base.rule, error: reason },
    fired: [],
    errored: true,
    status: { code: 500, reason: 'InternalError', message: `Countersign could not judge this request, so it is refused: ${reason}` },
  };
}
