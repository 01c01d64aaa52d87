// Holds agents to their bulk budgets across replicas: read the agent's record, decide with it, and only then
// record the delete by compare-and-swap. If another replica wrote in between, the decision is taken again with
// the fresh count, so two replicas can never both spend the last unit of a budget. A human's approval is used only
// after the delete is recorded: a record that cannot be read or written refuses the delete and leaves the approval
// for the retry.
import type { AdmissionRequest } from '../admission/types.js';
import type { ApprovalsToUse } from '../approvals/approval-gate.js';
import { withDelete, type ActivityUnavailable, type AgentActivity } from '../core/activity.js';
import { apiErrorMessage } from '../cluster/api-error.js';
import type { Decision } from '../core/decide.js';
import type { Metrics } from '../observability/metrics.js';
import type { ActivityStore } from './activity-store.js';

export interface BudgetDeps {
  store: ActivityStore;
  now: () => Date;
  retentionMs: number;
  metrics?: Metrics | undefined;
}

/**
 * Decides with a given activity: the decision, or live approvals that would let the request through, not used yet
 * (decideWithBudget records the delete first, then uses them).
 */
export type DecideWith = (activity: AgentActivity | ActivityUnavailable | undefined) => Promise<Decision | ApprovalsToUse>;

const ATTEMPTS = 6;

export class BudgetContention extends Error {
  constructor(agent: string) {
    super(`the activity record of ${agent} kept changing under concurrent requests (${String(ATTEMPTS)} attempts); try again`);
    this.name = 'BudgetContention';
  }
}

async function readActivity(agent: string, deps: BudgetDeps): Promise<{ activity: AgentActivity; version: string | undefined }> {
  const stored = await deps.store.read(agent);
  return { activity: { now: deps.now().getTime(), deletes: stored.deletes, retentionMs: deps.retentionMs }, version: stored.version };
}

/** Records one delete by compare-and-swap: false when another replica wrote the record since it was read. */
async function recordDelete(agent: string, read: { activity: AgentActivity; version: string | undefined }, deps: BudgetDeps): Promise<boolean> {
  const written = await deps.store.write(agent, withDelete(read.activity), read.version);
  if (written) deps.metrics?.budgetDeletes.inc({ agent: deps.metrics.agentLabel(agent) });
  else deps.metrics?.budgetConflicts.inc();
  return written;
}

/** An approved delete is the human's call: it is recorded whatever the count, retrying only the write. */
async function recordApproved(agent: string, first: { activity: AgentActivity; version: string | undefined }, deps: BudgetDeps): Promise<void> {
  let read = first;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    if (await recordDelete(agent, read, deps)) return;
    read = await readActivity(agent, deps);
  }
  throw new BudgetContention(agent);
}

/**
 * Judges an agent's DELETE under bulk budgets. Refusals and dry runs are not recorded: a budget counts what the
 * agent actually did.
 */
export async function decideWithBudget(request: AdmissionRequest, decideWith: DecideWith, deps: BudgetDeps): Promise<Decision> {
  const agent = request.userInfo.username;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    let read: Awaited<ReturnType<typeof readActivity>>;
    try {
      read = await readActivity(agent, deps);
    } catch (error: unknown) {
      // The core says why it refuses (an unavailable picture first); a delete that would go through but cannot be
      // recorded is refused here, or the budget would stop counting. Approvals found for it are left unused.
      const answer = await decideWith({ unavailable: apiErrorMessage(error) });
      if ('use' in answer || (answer.allowed && !answer.dryRun)) {
        throw new Error(`the delete cannot be recorded against the agent's budget: ${apiErrorMessage(error)}`, { cause: error });
      }
      return answer;
    }
    const answer = await decideWith(read.activity);
    if ('use' in answer) {
      // Recorded first, approvals used second, so a record that cannot be written (an error thrown, or contention)
      // refuses the delete without spending them. If using them then fails (a concurrent request got them, or the
      // approval store errs), the refused delete stays counted: an over-count by one that fails closed.
      await recordApproved(agent, read, deps);
      return answer.use();
    }
    if (!answer.allowed || answer.dryRun) return answer;
    if (await recordDelete(agent, read, deps)) return answer;
  }
  throw new BudgetContention(agent);
}
