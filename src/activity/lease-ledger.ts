// One replica's leases of agents' budgets: what it took from each agent's record, what it spent since, and the
// record as it read it then. Spending a unit is local; handing back unspent units is a write (flush).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { activityView, addUnits, pruned, type ActivityRecord, type AgentActivity } from '../core/activity.js';
import type { ActivityStore } from './activity-store.js';

/** Units taken per counter and lease: few, so an idle replica holds little of a budget. */
export const LEASE_UNITS = 4;
/** A lease lives seconds: long enough to serve a burst, short enough that a dead replica's units come back soon. */
export const LEASE_MS = 5_000;
/** A replica stops spending this long before its lease expires, so clock skew cannot push a spend past it. */
export const SPEND_MARGIN_MS = 1_000;
/** A lease unspent this long is handed back (its units would only make other replicas refuse). */
const FLUSH_EVERY_MS = 3_000;
/** How often the flush looks (no API call unless a lease is due): well within FOLD_GRACE_MS of a lease's expiry. */
const TICK_MS = 1_000;

export interface OwnLease {
  units: number;
  expires: number;
  /** Spend times, epoch milliseconds. */
  spent: number[];
}

export interface AgentLeases {
  /** The record as written at this replica's last lease (its own leases in it are replaced by `own`). */
  snapshot: ActivityRecord;
  own: Map<string, OwnLease>;
  /**
   * Writes in flight that folded `own` into the record (a lease taken, a flush): while any is, nothing is spent
   * locally, or a spend made after the fold was computed would be written over and forgotten.
   */
  folding: number;
  /** Replaced by a newer lease or handed back: never spent from again. */
  retired: boolean;
}

export class LeaseLedger {
  readonly agents = new Map<string, AgentLeases>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly replica = `${hostname()}-${randomBytes(4).toString('hex')}`,
    readonly leaseUnits = LEASE_UNITS,
    readonly leaseMs = LEASE_MS,
  ) {}

  /** The activity this replica decides with between leases. */
  localView(held: AgentLeases, now: number, retentionMs: number): AgentActivity {
    let record = held.snapshot;
    for (const [counter, lease] of held.own) for (const at of lease.spent) record = { ...record, buckets: addUnits(record.buckets, counter, at, 1) };
    return activityView(record, this.replica, now, retentionMs);
  }

  canSpend(held: AgentLeases, counters: readonly string[], now: number): boolean {
    if (held.retired || held.folding > 0) return false;
    return counters.every((counter) => {
      const lease = held.own.get(counter);
      return lease !== undefined && lease.spent.length < lease.units && now < lease.expires - SPEND_MARGIN_MS;
    });
  }

  spend(held: AgentLeases, counters: readonly string[], now: number): void {
    for (const counter of counters) held.own.get(counter)?.spent.push(now);
  }

  /**
   * The record with this replica's leases replaced by what it really spent, at the real times. A lease already
   * folded by another replica (it expired) is counted in full there: its spends are not added again. A lease of
   * this replica that `held` does not know (taken by a write whose answer was lost) is counted in full at expiry.
   */
  flushInto(record: ActivityRecord, held: AgentLeases | undefined): ActivityRecord {
    let buckets = record.buckets;
    for (const lease of record.leases) {
      if (lease.replica !== this.replica) continue;
      const own = held?.own.get(lease.counter);
      if (own !== undefined && own.expires === lease.expires) for (const at of own.spent) buckets = addUnits(buckets, lease.counter, at, 1);
      else buckets = addUnits(buckets, lease.counter, lease.expires, lease.units);
    }
    return { ...record, buckets, leases: record.leases.filter((l) => l.replica !== this.replica) };
  }

  /** Stops local spending from `held` while a write that folds it is in flight; `release` when it is done. */
  hold(held: AgentLeases | undefined): void {
    if (held !== undefined) held.folding += 1;
  }

  release(held: AgentLeases | undefined): void {
    if (held !== undefined) held.folding -= 1;
  }

  /** After a successful write: the record as written, and a fresh lease of which this request spent one unit. */
  afterWrite(agent: string, written: ActivityRecord, leased: readonly string[], now: number): void {
    const own = new Map<string, OwnLease>();
    for (const counter of leased) own.set(counter, { units: this.leaseUnits, expires: now + this.leaseMs, spent: [now] });
    const previous = this.agents.get(agent);
    if (previous !== undefined) previous.retired = true;
    this.agents.set(agent, { snapshot: written, own, folding: 0, retired: false });
  }

  /**
   * Hands back every lease that has sat unspent for FLUSH_EVERY_MS (its unspent units would only make other
   * replicas refuse) or expired with units left, within FOLD_GRACE_MS of expiry (after that another replica folds
   * it in full). A lease in use is left to run out: the next lease folds it. A failed write is retried next tick.
   */
  async flush(store: ActivityStore, now: number, retentionMs: number, all = false): Promise<void> {
    for (const [agent, held] of [...this.agents]) {
      // An entry without a lease (the last write was an approved request) holds nothing: dropped on the next flush.
      const idle = (lease: OwnLease): boolean => (lease.spent.at(-1) ?? lease.expires - this.leaseMs) + FLUSH_EVERY_MS <= now;
      const due = all || held.own.size === 0 || [...held.own.values()].some((lease) => idle(lease) || lease.expires <= now);
      if (!due || held.retired || held.folding > 0) continue;
      this.hold(held);
      try {
        const { version, ...record } = await store.read(agent);
        // Replaced while reading: the newer lease is in the record, and its holder hands it back.
        if (this.agents.get(agent) !== held) continue;
        const flushed = this.flushInto(pruned(record, now, retentionMs, this.replica), held);
        if (await store.write(agent, flushed, version) && this.agents.get(agent) === held) {
          held.retired = true;
          this.agents.delete(agent);
        }
      } catch {
        // Unavailable: the leases stay counted in full in the record; nothing is forgotten, the next flush retries.
      } finally {
        this.release(held);
      }
    }
  }

  startFlushing(store: ActivityStore, now: () => Date, retentionMs: () => number): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(store, now().getTime(), retentionMs()), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
