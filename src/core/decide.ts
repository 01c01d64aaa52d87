// The decision core: decoded request in, decision out. Pure: no network, no clock, no globals.
// decode -> classify requester -> resolve environment -> match and evaluate rules -> the most severe tier decides.
import type { AdmissionRequest, KubeObject } from '../kube/types.js';
import { CelAgent } from '../cel/agent.js';
import { agentCounts, removesCapacity } from './agent-counts.js';
import type { CelVariable, CelVariables } from '../cel/environment.js';
import { toCel } from '../cel/values.js';
import type { ApprovalRequirement, Tier } from '../config/schema.js';
import { TIER } from '../config/tiers.js';
import { allowedDecision, refusedOnError, type Decision } from './decision.js';
import type { PictureView } from './picture-view/picture-index.js';
import type { CompiledPolicy, CompiledRule } from '../config/policy-types.js';
import { isCountedWrite, type ActivityUnavailable, type AgentActivity } from './activity.js';
import { replicaChange } from './replica-change.js';
import { describeAction } from './describe.js';
import { actionRecord, sha256Digest } from './digest.js';
import { environmentResolver, namespaceOfRequest } from './environment.js';
import { evaluateRules, RuleTimeout, type RuleOutcome } from './evaluate-rules.js';
import { computeEffects, connectsToPod, effectCauses, needsPicture, NO_EFFECTS, workloadAccounts, type Effects, type IdentityFacts } from './effects/index.js';
import { cascadeImpact, computeImpact, describeImpact, NO_IMPACT, type Impact } from './impact.js';
import { agentMatcher, type Requester } from './requester.js';
import { ruleMatches } from './resource-match.js';
import { present } from '../kube/present.js';

export { allowedDecision, deniedDecision, refusedOnError, type Decision, type DecisionBase } from './decision.js';

export interface DecisionInput {
  request: AdmissionRequest;
  /** The request's Namespace from the cluster picture, when the request is namespaced. */
  namespace?: KubeObject;
  /** The cluster picture: where a DELETE's blast radius comes from. */
  picture?: PictureInput;
  /** The agent's recent deletes, read by the edge when the policy has bulk budgets, or why they could not be. */
  activity?: AgentActivity | ActivityUnavailable;
  /** The dangerous rights of the identities a workload will run as and of the agent (workloadAccounts), or why not. */
  identities?: IdentityFacts | { unavailable: string };
}

export interface PictureInput {
  view: PictureView;
  /** Set when the picture is not synced or has gone stale: why impact cannot be computed. */
  unavailable?: string;
  /** API groups whose objects the picture may lack: a namespace's contents cannot be counted while there are any. */
  unknownGroups?: readonly string[];
}

function isNamespaceDelete(request: AdmissionRequest): boolean {
  return request.operation === 'DELETE' && request.resource.group === '' && request.resource.resource === 'namespaces';
}

type PictureResult = { ok: true; view: PictureView | undefined } | { ok: false; reason: string };

/** The picture view when the request's effects need one, or why it cannot be had. */
function pictureFor(request: AdmissionRequest, picture: PictureInput | undefined): PictureResult {
  if (!needsPicture(request)) return { ok: true, view: undefined };
  if (picture === undefined) return { ok: false, reason: 'no cluster picture is configured' };
  if (picture.unavailable !== undefined) return { ok: false, reason: picture.unavailable };
  if (isNamespaceDelete(request) && (picture.unknownGroups ?? []).length > 0) {
    return { ok: false, reason: `API groups not discoverable, so a namespace's contents cannot all be seen: ${(picture.unknownGroups ?? []).join(', ')}` };
  }
  return { ok: true, view: picture.view };
}

type ImpactResult = { ok: true; impact: Impact; view: PictureView | undefined } | { ok: false; reason: string };

/** Computes the impact at most once per decision, and only if something asks for it. */
function lazyImpact(request: AdmissionRequest, picture: PictureInput | undefined): () => ImpactResult {
  let result: ImpactResult | undefined;
  return () => {
    if (result !== undefined) return result;
    const facts = pictureFor(request, picture);
    result = facts.ok ? { ok: true, impact: computeImpact(request, facts.view), view: facts.view } : facts;
    return result;
  };
}

function withoutCauses(removes: Effects['removes']): Impact {
  const { total, byResource, pods, boundClaims, deletedVolumes, dataBearing } = removes;
  return { total, byResource, pods, boundClaims, deletedVolumes, dataBearing };
}

function impactToCel(impact: Impact): unknown {
  return toCel({ ...impact, summary: describeImpact(impact) });
}

export interface Judge {
  readonly policy: CompiledPolicy;
  isAgent(request: AdmissionRequest): boolean;
  decide(input: DecisionInput): Decision;
}

/** The rule name of a refusal because the blast radius could not be computed. */
export const IMPACT_UNAVAILABLE = 'impact-unavailable';
/** The rule name of a refusal because the agent's activity record could not be read. */
export const BUDGET_UNAVAILABLE = 'budget-unavailable';
/** The rule name of a refusal because the rights of the identity a workload would run as could not be checked. */
export const IDENTITY_UNAVAILABLE = 'identity-unavailable';


/** Among equally severe rules the first in the policy decides (its approval requirement applies). */
function mostSevere(fired: readonly RuleOutcome[]): RuleOutcome | undefined {
  let top: RuleOutcome | undefined;
  for (const outcome of fired) {
    if (top === undefined || TIER[outcome.rule.config.tier].severity > TIER[top.rule.config.tier].severity) top = outcome;
  }
  return top;
}

interface Context {
  environment: string;
  requester: Requester;
  impact: Impact;
  effects: Effects;
}

/** The variables the evaluated rules name (by word in their text), each converted only if one of them does. */
function readBy(rules: readonly CompiledRule[]): (name: CelVariable) => boolean {
  const names = new Set<CelVariable>();
  for (const rule of rules) for (const name of rule.reads) names.add(name);
  return (name) => names.has(name);
}

function celVariables(policy: CompiledPolicy, input: DecisionInput, { environment, requester, impact, effects }: Context, reads: (name: CelVariable) => boolean): CelVariables {
  const { object, oldObject, ...attributes } = input.request;
  // Converting an object for CEL copies it whole: a variable no evaluated rule names stays null.
  const cel = (name: CelVariable, value: () => unknown): unknown => (reads(name) ? value() : null);
  // A dry run counts itself too: it must get the answer the real request would get.
  const thisRequest = {
    deletes: input.request.operation === 'DELETE' ? 1 : 0, changes: isCountedWrite(input.request.operation) ? 1 : 0,
    environment, replicaChange: replicaChange(input.request),
  };
  const activity = input.activity === undefined || 'unavailable' in input.activity ? undefined : input.activity;
  return {
    // ValidatingAdmissionPolicy's typed request always has these fields, empty when unset; expressions rely on it.
    request: cel('request', () => toCel({ name: '', namespace: '', subResource: '', dryRun: false, ...attributes })),
    object: cel('object', () => toCel(object ?? null)),
    oldObject: cel('oldObject', () => toCel(oldObject ?? null)),
    namespaceObject: cel('namespaceObject', () => toCel(input.namespace ?? null)),
    params: policy.params,
    environment,
    agent: new CelAgent({
      username: requester.username, groups: requester.groups, serviceAccount: toCel(requester.serviceAccount ?? null),
      counts: activity === undefined ? undefined : agentCounts(activity, thisRequest),
      removesCapacity: removesCapacity(thisRequest.replicaChange),
    }),
    countersign: policy.countersign,
    blastRadius: cel('blastRadius', () => impactToCel(impact)),
    effects: cel('effects', () => toCel({ ...effects, removes: { ...effects.removes, summary: describeImpact(effects.removes) }, causes: effectCauses(effects) })),
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
  return TIER[verdict.tier].wording(verdict.rule, verdict.message, digest ?? '');
}

function dryRunWarning(verdict: Verdict, impact: Impact | undefined): string {
  const reach = impact === undefined || impact.total === 0 ? '' : ` It would remove ${describeImpact(impact)}.`;
  return `dry run: Countersign would ${TIER[verdict.tier].dryRun} (rule ${verdict.rule}).${reach}`;
}

interface Judged {
  input: DecisionInput;
  base: { requester: Requester; environment: string; dryRun: boolean };
  fired: RuleOutcome[];
  verdict: Verdict;
  impact: Impact | undefined;
}

function decisionFrom({ input: { request }, base, fired, verdict, impact }: Judged): Decision {
  const { environment, requester, dryRun } = base;
  const action = TIER[verdict.tier].gated
    ? actionRecord(request, { environment, rule: verdict.rule, message: verdict.message }, impact)
    : undefined;
  // The message describes the action and may carry live figures (a budget's count): it is recorded, not hashed.
  const digest = action === undefined ? undefined : sha256Digest({ ...action, message: undefined });
  const { allowed } = TIER[verdict.tier];
  // Audit warnings accompany what was allowed; on a refusal they would only bury the reason.
  const warnings = fired
    .filter((o) => allowed && o.rule.config.tier === 'audit')
    .map((o) => verdictMessage({ tier: 'audit', rule: o.rule.config.name, message: o.message ?? describeAction(request, environment) }, undefined));
  if (dryRun) warnings.unshift(dryRunWarning(verdict, impact));
  const auditAnnotations: Record<string, string> = {
    decision: allowed ? 'allowed' : 'denied',
    tier: verdict.tier,
    rule: verdict.rule,
    environment,
    agent: requester.username,
  };
  if (digest !== undefined) auditAnnotations.digest = digest;
  if (impact !== undefined && impact.total > 0) auditAnnotations.impact = describeImpact(impact);
  return {
    ...base,
    allowed,
    tier: verdict.tier,
    rule: verdict.rule,
    warnings,
    auditAnnotations,
    errored: false,
    fired: fired.map((o) => ({ rule: o.rule.config.name, tier: o.rule.config.tier, ...present({ error: o.error }) })),
    ...present({ impact, digest }),
    ...(action === undefined || verdict.requirement === undefined ? {} : { approval: { action, requirement: verdict.requirement } }),
    ...(allowed ? {} : { status: { code: 403, reason: 'Forbidden', message: verdictMessage(verdict, digest) } }),
  };
}

type DecisionBase = { requester: Requester; environment: string; dryRun: boolean };

/** What gatherFacts found; identityMissing says why the identities a rule reads could not be checked. */
interface Facts {
  impact?: Impact;
  effects?: Effects;
  identityMissing?: string;
}

function isDecision(value: object): value is Decision {
  return 'allowed' in value;
}

/** The impact a decision records: an approval names the impact it was given for, controllers' removals included. */
function impactToApprove(input: DecisionInput, verdict: Verdict, facts: Facts): Impact | { reason: string } | undefined {
  let { impact } = facts;
  if (TIER[verdict.tier].gated && impact === undefined && needsPicture(input.request)) {
    const result = lazyImpact(input.request, input.picture)();
    if (!result.ok) return { reason: result.reason };
    impact = result.impact;
  }
  if (facts.effects !== undefined && facts.effects.removes.total > (impact?.total ?? 0)) impact = withoutCauses(facts.effects.removes);
  return impact;
}

function impactUnavailable(base: DecisionBase, reason: string): Decision {
  return refusedOnError({ ...base, rule: IMPACT_UNAVAILABLE }, `the impact of this request could not be computed (${reason})`);
}

export function createJudge(policy: CompiledPolicy): Judge {
  const agents = agentMatcher(policy.config.agents);
  const environments = environmentResolver(policy.config.environments);
  const timeoutMs = policy.config.evaluation.timeoutMilliseconds;

  /** What the rules need to know beyond the request: its impact, its effects, the identities involved. */
  function gatherFacts(input: DecisionInput, candidates: readonly CompiledRule[], base: DecisionBase): Facts | Decision {
    const { request } = input;
    const usesEffects = candidates.some((rule) => rule.usesEffects);
    if (!usesEffects && !candidates.some((rule) => rule.usesImpact)) return {};
    const result = lazyImpact(request, input.picture)();
    if (!result.ok) return impactUnavailable(base, result.reason);
    if (!usesEffects) return { impact: result.impact };
    const { identities } = input;
    const known = identities === undefined || 'unavailable' in identities ? undefined : identities;
    const needsIdentities = candidates.some((rule) => rule.usesIdentity) && (workloadAccounts(request).length > 0 || connectsToPod(request));
    const identityMissing = !needsIdentities || known !== undefined ? undefined
      : identities === undefined ? 'no connection to the cluster to ask' : (identities as { unavailable: string }).unavailable;
    // The blast radius of an UPDATE is its scale-down when nothing is removed; effects count those as stopped pods.
    const cascade = request.operation === 'DELETE' ? result.impact : cascadeImpact(request, result.view);
    const effects = computeEffects(request, {
      cascade, view: result.view, countersignNamespace: policy.config.countersignNamespace,
      isAgent: (identity) => agents.classify(identity).isAgent, ...present({ identities: known }),
    });
    return { impact: result.impact, effects, ...present({ identityMissing }) };
  }

  /** Every candidate rule, evaluated; those that read identities left out when they could not be checked. */
  function evaluateCandidates(input: DecisionInput, candidates: readonly CompiledRule[], base: DecisionBase, facts: Facts): RuleOutcome[] | Decision {
    if (candidates.length === 0) return [];
    const evaluated = facts.identityMissing === undefined ? candidates : candidates.filter((rule) => !rule.usesIdentity);
    const context = { ...base, impact: facts.impact ?? NO_IMPACT, effects: facts.effects ?? NO_EFFECTS };
    try {
      return evaluateRules(evaluated, celVariables(policy, input, context, readBy(evaluated)), timeoutMs);
    } catch (error: unknown) {
      if (!(error instanceof RuleTimeout)) throw error;
      return refusedOnError({ ...base, rule: error.rule.config.name }, error.message);
    }
  }

  function decideForAgent(input: DecisionInput, requester: Requester): Decision {
    const { request } = input;
    const environment = environments.resolve(request, namespaceOfRequest(request, input.namespace));
    const candidates = policy.rules.filter((rule) => ruleMatches(rule.config.match, request, environment));
    const base = { requester, environment, dryRun: request.dryRun === true };
    const facts = gatherFacts(input, candidates, base);
    if (isDecision(facts)) return facts;
    if (input.activity !== undefined && 'unavailable' in input.activity && candidates.some((rule) => rule.usesBudget)) {
      return refusedOnError({ ...base, rule: BUDGET_UNAVAILABLE }, `the agent's activity record, which its budgets count, could not be read (${input.activity.unavailable})`);
    }
    const outcomes = evaluateCandidates(input, candidates, base, facts);
    if (isDecision(outcomes)) return outcomes;
    const fired = outcomes.filter((o) => o.fired);
    const verdict = verdictOf(mostSevere(fired), describeAction(request, environment));
    if (facts.identityMissing !== undefined && verdict.tier !== 'deny') {
      return refusedOnError({ ...base, rule: IDENTITY_UNAVAILABLE }, `the rights of the identity this workload would run as could not be checked (${facts.identityMissing})`);
    }
    const impact = impactToApprove(input, verdict, facts);
    if (impact !== undefined && 'reason' in impact) return impactUnavailable(base, impact.reason);
    return decisionFrom({ input, base, fired, verdict, impact });
  }

  return {
    policy,
    isAgent: (request) => agents.classify(request.userInfo).isAgent,
    decide(input) {
      const requester = agents.classify(input.request.userInfo);
      if (!requester.isAgent) return allowedDecision({ requester, environment: '', dryRun: input.request.dryRun === true, rule: 'non-agent' });
      return decideForAgent(input, requester);
    },
  };
}
