// The edge around the pure core: decode, look the namespace up, decide, record, answer.
// Fail closed for agents (an explicit allowed:false), never for anyone else.
import type { Logger } from 'pino';
import type { NamespaceDirectory } from '../cluster/namespace-directory.js';
import { allowedDecision, deniedDecision, refusedOnError, type Decision, type DecisionBase, type DecisionInput, type Judge, type PictureInput } from '../core/decide.js';
import { connectsToPod, needsPicture, workloadAccounts, type IdentityFacts, type WorkloadAccount } from '../core/effects/index.js';
import type { PodIdentities } from '../cluster/pod-identity.js';
import { serviceAccountIdentity } from '../core/requester.js';
import type { IdentityPower } from '../cluster/identity-power.js';
import type { ClusterPicture } from '../picture/cluster-picture.js';
import { objectName, resourceLabel } from '../core/describe.js';
import { isClusterScoped } from '../core/environment.js';
import type { FailClosedReason, Metrics } from '../observability/metrics.js';
import { recordDecision } from '../observability/record-decision.js';
import { admitOwnResource, isOwnResource } from '../approvals/admit-own-resources.js';
import { checkApprovalGate, type GateDeps } from '../approvals/approval-gate.js';
import { isCountedWrite } from '../core/activity.js';
import { decideWithBudget, type BudgetDeps, type DecideWith } from './budget-gate.js';
import { decodeReview, decodeReviewText } from './decode.js';
import { reviewResponse } from './response.js';
import type { AdmissionRequest, AdmissionResponse, AdmissionReviewResponse, KubeObject } from '../kube/types.js';
import { TIER } from '../config/tiers.js';
import { present } from '../kube/present.js';

export interface ReviewDeps {
  /** The judge for the policy serving right now (it changes on reload). */
  judge: () => Judge;
  namespaces: NamespaceDirectory;
  /** Where a DELETE's blast radius comes from; without it, agents' deletes that need one are refused. */
  picture?: ClusterPicture;
  log: Logger;
  metrics?: Metrics;
  /** Where approvals live; without it (offline evaluation) gated requests are simply refused. */
  approvals?: GateDeps;
  /** What identities may do (SubjectAccessReview): without it a workload's identity cannot be checked (fail closed). */
  identities?: IdentityPower;
  /** Which ServiceAccount a pod runs as, for a shell or tunnel into it (exec, attach, port-forward). */
  pods?: PodIdentities;
  /** Where agents' activity records live, for bulk budgets. Without it `agent.deletes(...)` cannot be answered. */
  activity?: Omit<BudgetDeps, 'retentionMs' | 'metrics'>;
}

export type HandledReview = { status: 200; body: AdmissionReviewResponse } | { status: 400; body: { error: string } };

function toResponse(uid: string, decision: Decision): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: decision.allowed };
  if (decision.status !== undefined) response.status = decision.status;
  if (decision.warnings.length > 0) response.warnings = decision.warnings;
  if (Object.keys(decision.auditAnnotations).length > 0) response.auditAnnotations = decision.auditAnnotations;
  return response;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function lookupNamespace(request: AdmissionRequest, namespaces: NamespaceDirectory): Promise<KubeObject | undefined> {
  if (isClusterScoped(request)) return undefined;
  if (!namespaces.isReady()) throw new Error('the cluster picture (Namespaces) has not synced yet');
  return namespaces.get(request.namespace ?? '');
}

function pictureInput(picture: ClusterPicture | undefined): PictureInput | undefined {
  if (picture === undefined) return undefined;
  const status = picture.status();
  if (!status.ready) return { view: picture.view, unavailable: status.reason ?? 'the cluster picture is not ready' };
  const unknown = status.unknownGroups ?? [];
  return unknown.length === 0 ? { view: picture.view } : { view: picture.view, unknownGroups: unknown };
}

/** A failure of something the edge needed to judge an agent's request, named for the fail-closed metric. */
class Unjudgeable extends Error {
  constructor(readonly reason: FailClosedReason, cause: unknown) {
    super(errorText(cause), { cause });
    this.name = 'Unjudgeable';
  }
}

const failingWith = (reason: FailClosedReason) => (error: unknown): never => {
  throw error instanceof Unjudgeable ? error : new Unjudgeable(reason, error);
};

/** The core's own failure (a bug) is an internal error, whatever edge called it. */
function decideTagged(judge: Judge, input: DecisionInput): Decision {
  try {
    return judge.decide(input);
  } catch (error: unknown) {
    return failingWith('internal-error')(error);
  }
}

/** A workload ServiceAccount's rights in its namespace, and cluster-wide: granted everywhere, they reach production. */
async function accountRights(power: IdentityPower, account: WorkloadAccount): Promise<IdentityFacts['workloads'][number]> {
  const identity = serviceAccountIdentity(account.namespace, account.name);
  const [rights, clusterWide] = await Promise.all([power.rightsOf(identity, account.namespace), power.rightsOf(identity, '')]);
  return { ...account, rights, clusterWide };
}

/**
 * The dangerous rights of the identities the request's workloads would run as, and the agent's own, asked only when
 * a rule reads `effects.actsAs` and the request starts or changes a workload. A failure is passed on to the core,
 * which refuses the agent (fail closed) and names it identity-unavailable.
 */
async function identityFacts(request: AdmissionRequest, judge: Judge, deps: ReviewDeps): Promise<IdentityFacts | { unavailable: string } | undefined> {
  if (!judge.policy.usesIdentity) return undefined;
  const connect = connectsToPod(request);
  const workloads = connect ? [] : workloadAccounts(request);
  if (!connect && workloads.length === 0) return undefined;
  const power = deps.identities;
  if (power === undefined || (connect && deps.pods === undefined)) return { unavailable: 'no connection to the cluster to ask' };
  try {
    const namespace = request.namespace ?? '';
    const pod = connect && deps.pods !== undefined ? await deps.pods.podOf(namespace, request.name ?? '') : undefined;
    const accounts = pod === undefined ? workloads : [{ namespace, name: pod.serviceAccount }];
    const agent = { username: request.userInfo.username, groups: request.userInfo.groups };
    const [agentRights, judged] = await Promise.all([power.rightsOf(agent, namespace), Promise.all(accounts.map((a) => accountRights(power, a)))]);
    return { workloads: judged, agentRights, ...(pod === undefined ? {} : { connectedPodSpec: pod.spec }) };
  } catch (error: unknown) {
    deps.log.warn({ err: error, uid: request.uid }, 'cannot check the rights of a workload identity');
    return { unavailable: errorText(error) };
  }
}

/** What the edge decided, and when it refused for want of a judgement, which part failed. */
interface Judgement {
  decision: Decision;
  failure?: FailClosedReason;
}

/** Runs one stage of the agent path; its failure refuses the agent, named `reason` in logs and metrics. */
function stage<T>(reason: FailClosedReason, run: () => Promise<T>): Promise<T> {
  return run().catch(failingWith(reason));
}

/**
 * Stage 1, gather: what the core needs beyond the request - the namespace, the cluster picture (only for requests
 * whose effects need it: its status walks every watch), the identities a workload would run as.
 */
async function gatherInput(request: AdmissionRequest, judge: Judge, deps: ReviewDeps): Promise<DecisionInput> {
  const namespace = await stage('namespace-unavailable', () => lookupNamespace(request, deps.namespaces));
  const picture = needsPicture(request) ? pictureInput(deps.picture) : undefined;
  // Never throws: a failure to ask is handed to the core, which refuses unless a denial decides.
  const identities = await identityFacts(request, judge, deps);
  return {
    request, ...present({ namespace, picture, identities }),
  };
}

/**
 * Stage 2, judge: the core's decision with the activity the budget stage read, then the approval gate. Approvals
 * found are handed back unused: the budget stage uses them only once the request is recorded.
 */
function judgeWithApprovals(input: DecisionInput, judge: Judge, deps: ReviewDeps): DecideWith {
  return async (activity) => {
    const decision = decideTagged(judge, { ...input, ...present({ activity }) });
    if (!TIER[decision.tier].gated || decision.errored || deps.approvals === undefined) return decision;
    const approvals = deps.approvals;
    const gated = await stage('approvals-unavailable', () => checkApprovalGate(input.request, decision, judge.policy.config, approvals));
    return 'use' in gated ? { use: () => stage('approvals-unavailable', () => gated.use()), environment: decision.environment } : gated;
  };
}

/** Stage 3, count: under the policy's budgets, the request is recorded before any approval is used. */
async function withinBudget(request: AdmissionRequest, judge: Judge, deps: ReviewDeps, judged: DecideWith): Promise<Decision> {
  if (!judge.policy.usesBudgets || !isCountedWrite(request.operation) || deps.activity === undefined) {
    const answer = await judged(undefined);
    return 'use' in answer ? answer.use() : answer;
  }
  const budgets = { ...deps.activity, retentionMs: judge.policy.config.activity.retentionSeconds * 1000, metrics: deps.metrics };
  return stage('budget-unavailable', () => decideWithBudget(request, judged, budgets));
}

/** An agent's request through the stages; whatever fails, the agent is refused with the reason (fail closed). */
async function decideAgent(request: AdmissionRequest, judge: Judge, deps: ReviewDeps): Promise<Judgement> {
  try {
    const input = await gatherInput(request, judge, deps);
    return { decision: await withinBudget(request, judge, deps, judgeWithApprovals(input, judge, deps)) };
  } catch (error: unknown) {
    const failure = error instanceof Unjudgeable ? error.reason : 'internal-error';
    deps.log.error({ err: error instanceof Unjudgeable ? error.cause : error, uid: request.uid, failure }, 'cannot judge an agent request; refusing it');
    return { decision: refusedOnError({ ...requestBase(request, true, failure), environment: 'unknown' }, errorText(error)), failure };
  }
}

/** The decision base of a request the core did not judge: who asked, and under which rule name. */
function requestBase(request: AdmissionRequest, isAgent: boolean, rule: string): DecisionBase {
  return { requester: { isAgent, username: request.userInfo.username, groups: request.userInfo.groups }, environment: '', dryRun: request.dryRun === true, rule };
}

function decideOther(request: AdmissionRequest, judge: Judge, log: Logger): Decision {
  try {
    return judge.decide({ request });
  } catch (error: unknown) {
    // Never block a human or a controller because of our own failure.
    log.error({ err: error, uid: request.uid }, 'internal error on a non-agent request; allowing it');
    return allowedDecision({ ...requestBase(request, false, 'non-agent'), dryRun: false }, {}, true);
  }
}

/** Approvals and approval requests: checked for everyone, refused on any error (an unchecked approval is no approval). */
async function decideOwnResource(request: AdmissionRequest, judge: Judge, deps: ReviewDeps & { approvals: GateDeps }): Promise<Judgement> {
  const base = requestBase(request, judge.isAgent(request), 'countersign-resources');
  try {
    const verdict = await admitOwnResource(request, judge.policy.config, { ...deps.approvals, isAgent: (r) => judge.isAgent(r) });
    if (verdict.allowed) return { decision: allowedDecision(base, verdict.note === undefined ? {} : { approval: verdict.note }) };
    return { decision: deniedDecision(base, verdict.message) };
  } catch (error: unknown) {
    deps.log.error({ err: error, uid: request.uid }, 'cannot check a change to an approval resource; refusing it');
    return { decision: refusedOnError(base, errorText(error)), failure: 'approvals-unavailable' };
  }
}

async function judgeRequest(request: AdmissionRequest, judge: Judge, deps: ReviewDeps): Promise<Judgement> {
  if (isOwnResource(request)) {
    if (deps.approvals !== undefined) return decideOwnResource(request, judge, { ...deps, approvals: deps.approvals });
    // Without the approval store (a static --cluster picture) nothing about an approval can be checked.
    const base = requestBase(request, judge.isAgent(request), 'countersign-resources');
    return { decision: refusedOnError(base, 'approval resources cannot be checked without a connection to the cluster'), failure: 'approvals-unavailable' };
  }
  return judge.isAgent(request) ? decideAgent(request, judge, deps) : { decision: decideOther(request, judge, deps.log) };
}

function logDecision(request: AdmissionRequest, decision: Decision, seconds: number, log: Logger): void {
  log.info({
    msg: 'decision', uid: request.uid, requester: request.userInfo.username, agent: decision.requester.isAgent,
    operation: request.operation, resource: resourceLabel(request), namespace: request.namespace ?? '', name: objectName(request),
    environment: decision.environment, rule: decision.rule, tier: decision.tier, decision: decision.allowed ? 'allowed' : 'denied',
    dryRun: decision.dryRun, fired: decision.fired, latencyMs: Math.round(seconds * 1e6) / 1e3,
    ...present({ digest: decision.digest }),
    ...(decision.errored ? { error: decision.status?.message } : {}),
    ...(!decision.allowed && !decision.errored ? { message: decision.status?.message } : {}),
  });
}

/** Handles one AdmissionReview body: raw JSON text, or an already parsed value. */
export async function handleReview(body: unknown, deps: ReviewDeps): Promise<HandledReview> {
  const started = process.hrtime.bigint();
  const decoded = typeof body === 'string' ? decodeReviewText(body) : decodeReview(body);
  if (!decoded.ok) {
    deps.metrics?.reviewErrors.inc({ reason: 'decode' });
    deps.log.warn({ msg: 'malformed AdmissionReview', error: decoded.message });
    return { status: 400, body: { error: decoded.message } };
  }
  const { request } = decoded;
  const judge = deps.judge();
  const { decision, failure } = await judgeRequest(request, judge, deps);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (deps.metrics !== undefined) {
    recordDecision(deps.metrics, { request, decision, seconds, knownEnvironments: judge.policy.config.environments.known, failure });
  }
  logDecision(request, decision, seconds, deps.log);
  return { status: 200, body: reviewResponse(toResponse(request.uid, decision)) };
}
