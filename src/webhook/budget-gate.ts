// Holds agents to their bulk budgets across replicas without an API round trip per counted request.
//
// The agent's record (one object, compare-and-swap) holds committed counts in 10-second buckets and per-replica
// leases. A replica lets a counted request through by spending one unit of its own live lease for each counter the
// request counts in (no API call), deciding with: the record as it read it at its last lease (every other replica's
// leased units counted as spent) + its own units spent since + 1. Without a live lease (or when that local decision
// refuses, or the request lowers replicas and must record a peak), it reads the record, decides with the fresh count,
// and only if the request is still allowed takes a lease of LEASE_UNITS per counter by compare-and-swap, the whole
// lease counted as spent (at its expiry) in the record from that moment.
//
// Why replicas together never overspend (for rules that refuse above a count): every unit a replica can spend is
// in a lease every other replica counted in full when it last leased, and a replica's own spends are checked one by
// one against its count; so the last replica to lease saw all others' units as spent, and its own are checked. A
// lease is short (LEASE_MS); unspent units are handed back on the next write or the periodic flush, spent ones
// bucketed at their real spend time. A replica that dies leaves its lease counted in full at its expiry (folded into
// the buckets by whoever writes next): over-counting, never forgetting. The error always leans to refusing.
// While a write that folds a replica's lease into the record is computed and in flight (a new lease, a flush),
// that lease is held: no local spend from it, or the spend would be written over and forgotten (a request that
// arrives meanwhile goes to the record). Worst-case overspend across replicas is therefore zero for a rule that
// refuses above a count, up to clock skew beyond SPEND_MARGIN_MS at a window's edge (docs/blast-radius-and-budgets.md).
//
// A human's approval is used only after the request is counted in the record: a record that cannot be read or
// written refuses the request and leaves the approval for the retry. Refusals and dry runs are never recorded.
import type { AdmissionRequest } from '../kube/types.js';
import type { ApprovalsToUse } from '../approvals/approval-gate.js';
import {
  activityView, addUnits, changesCounter, DELETES, isCountedWrite, pruned, withPeak,
  type ActivityRecord, type ActivityUnavailable, type AgentActivity,
} from '../core/activity.js';
import { apiErrorMessage } from '../kube/api-error.js';
import type { Decision } from '../core/decide.js';
import { replicaChange } from '../core/replica-change.js';
import type { Metrics } from '../observability/metrics.js';
import type { ActivityStore } from '../activity/activity-store.js';
import { LeaseLedger, type AgentLeases } from '../activity/lease-ledger.js';
import { present } from '../kube/present.js';

export interface BudgetDeps {
  store: ActivityStore;
  now: () => Date;
  retentionMs: number;
  metrics?: Metrics | undefined;
  /** This replica's leases; one per process and store by default. */
  ledger?: LeaseLedger;
}

/**
 * Decides with a given activity: the decision, or live approvals that would let the request through, not used yet
 * (decideWithBudget records the request first, then uses them).
 */
export type DecideWith = (activity: AgentActivity | ActivityUnavailable | undefined) => Promise<Decision | ApprovalsFound>;

/** Approvals found for a gated decision, with the decision's environment (the counters depend on it). */
export type ApprovalsFound = ApprovalsToUse & { environment: string };

const ATTEMPTS = 6;

export class BudgetContention extends Error {
  constructor(agent: string) {
    super(`the activity record of ${agent} kept changing under concurrent requests (${String(ATTEMPTS)} attempts); try again`);
    this.name = 'BudgetContention';
  }
}

const ledgers = new WeakMap<ActivityStore, LeaseLedger>();

function ledgerOf(deps: BudgetDeps): LeaseLedger {
  if (deps.ledger !== undefined) return deps.ledger;
  let ledger = ledgers.get(deps.store);
  if (ledger === undefined) {
    ledger = new LeaseLedger();
    ledger.startFlushing(deps.store, deps.now, () => deps.retentionMs);
    ledgers.set(deps.store, ledger);
  }
  return ledger;
}

/** The counters a request counts in, once its environment is known. */
export function countersOf(request: AdmissionRequest, environment: string): string[] {
  if (!isCountedWrite(request.operation)) return [];
  return request.operation === 'DELETE' ? [DELETES, changesCounter(environment)] : [changesCounter(environment)];
}

function lowers(request: AdmissionRequest): ReturnType<typeof replicaChange> {
  const change = replicaChange(request);
  return change !== undefined && change.after < change.before ? change : undefined;
}

/** The record with this request counted: committed units (an approved request) or fresh leases, and its peak. */
function counted(record: ActivityRecord, request: AdmissionRequest, counters: string[], how: { now: number; lease?: { replica: string; units: number; expires: number } }): ActivityRecord {
  let next = record;
  for (const counter of counters) {
    next = how.lease === undefined
      ? { ...next, buckets: addUnits(next.buckets, counter, how.now, 1) }
      : { ...next, leases: [...next.leases, { replica: how.lease.replica, counter, units: how.lease.units, expires: how.lease.expires }] };
  }
  const change = lowers(request);
  return change === undefined ? next : withPeak(next, change.workload, change.before, how.now);
}

function noteCounted(request: AdmissionRequest, deps: BudgetDeps): void {
  if (request.operation === 'DELETE') deps.metrics?.budgetDeletes.inc({ agent: deps.metrics.agentLabel(request.userInfo.username) });
}

/** The fast path: the decision under this replica's own lease, a unit spent, or undefined to go to the record. */
async function underLease(request: AdmissionRequest, decideWith: DecideWith, { held, ledger }: { held: AgentLeases; ledger: LeaseLedger }, deps: BudgetDeps): Promise<Decision | undefined> {
  const now = deps.now().getTime();
  const answer = await decideWith(ledger.localView(held, now, deps.retentionMs));
  // Approvals are used only once counted in the record; a local refusal may be an over-count: ask the record.
  if ('use' in answer || !answer.allowed) return undefined;
  const counters = countersOf(request, answer.environment);
  if (!ledger.canSpend(held, counters, now)) return undefined;
  if (answer.dryRun) return answer;
  ledger.spend(held, counters, now);
  noteCounted(request, deps);
  return answer;
}

/**
 * The core says why it refuses (an unavailable picture first); a request that would go through but cannot be
 * recorded is refused here, or the budget would stop counting. Approvals found for it are left unused.
 */
async function unrecordable(error: unknown, decideWith: DecideWith): Promise<Decision> {
  const answer = await decideWith({ unavailable: apiErrorMessage(error) });
  if ('use' in answer || (answer.allowed && !answer.dryRun)) {
    throw new Error(`the request cannot be recorded against the agent's budget: ${apiErrorMessage(error)}`, { cause: error });
  }
  return answer;
}

/** Judges an agent's counted write (CREATE, UPDATE, DELETE) under bulk budgets. */
export async function decideWithBudget(request: AdmissionRequest, decideWith: DecideWith, deps: BudgetDeps): Promise<Decision> {
  const agent = request.userInfo.username;
  const ledger = ledgerOf(deps);
  const held = ledger.agents.get(agent);
  if (held !== undefined && lowers(request) === undefined) {
    const local = await underLease(request, decideWith, { held, ledger }, deps);
    if (local !== undefined) return local;
  }
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    const now = deps.now().getTime();
    let stored: Awaited<ReturnType<ActivityStore['read']>>;
    try {
      stored = await deps.store.read(agent);
    } catch (error: unknown) {
      return unrecordable(error, decideWith);
    }
    const { version, ...record } = stored;
    // Held while this write is computed and in flight: a local spend meanwhile would be written over.
    const held = ledger.agents.get(agent);
    ledger.hold(held);
    try {
      const flushed = ledger.flushInto(pruned(record, now, deps.retentionMs, ledger.replica), held);
      const answer = await decideWith(activityView(flushed, ledger.replica, now, deps.retentionMs));
      if (!('use' in answer) && (!answer.allowed || answer.dryRun)) return answer;
      const counters = countersOf(request, answer.environment);
      // An approved request is the human's call: counted as committed whatever the count, then the approval used.
      const lease = 'use' in answer ? undefined : { replica: ledger.replica, units: ledger.leaseUnits, expires: now + ledger.leaseMs };
      const next = counted(flushed, request, counters, { now, ...present({ lease }) });
      if (await deps.store.write(agent, next, version)) {
        ledger.afterWrite(agent, next, lease === undefined ? [] : counters, now);
        noteCounted(request, deps);
        return 'use' in answer ? await answer.use() : answer;
      }
    } finally {
      ledger.release(held);
    }
    deps.metrics?.budgetConflicts.inc();
  }
  throw new BudgetContention(agent);
}
