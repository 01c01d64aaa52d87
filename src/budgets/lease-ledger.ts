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
const FLUSH_EVERY_MS = 3_000;

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
   * folded by another replica (it expired) is counted in full there: its spends are not added again.
   */
  flushInto(record: ActivityRecord, held: AgentLeases | undefined): ActivityRecord {
    let buckets = record.buckets;
    const mine = (l: ActivityRecord['leases'][number]): boolean => l.replica === this.replica;
    for (const [counter, lease] of held?.own ?? []) {
      const present = record.leases.some((l) => mine(l) && l.counter === counter && l.expires === lease.expires);
      if (present) for (const at of lease.spent) buckets = addUnits(buckets, counter, at, 1);
    }
    return { ...record, buckets, leases: record.leases.filter((l) => !mine(l)) };
  }

  /** After a successful write: the record as written, and a fresh lease of which this request spent one unit. */
  afterWrite(agent: string, written: ActivityRecord, leased: readonly string[], now: number): void {
    const own = new Map<string, OwnLease>();
    for (const counter of leased) own.set(counter, { units: this.leaseUnits, expires: now + this.leaseMs, spent: [now] });
    this.agents.set(agent, { snapshot: written, own });
  }

  /** Hands back every lease that expired or has sat FLUSH_EVERY_MS; a failed write is retried on the next flush. */
  async flush(store: ActivityStore, now: number, retentionMs: number, all = false): Promise<void> {
    for (const [agent, held] of [...this.agents]) {
      const due = all || [...held.own.values()].some((lease) => lease.expires - this.leaseMs + FLUSH_EVERY_MS <= now || lease.expires <= now);
      if (!due) continue;
      try {
        const { version, ...record } = await store.read(agent);
        const flushed = this.flushInto(pruned(record, now, retentionMs, this.replica), held);
        if (await store.write(agent, flushed, version)) this.agents.delete(agent);
      } catch {
        // Unavailable: the leases stay counted in full in the record; nothing is forgotten, the next flush retries.
      }
    }
  }

  startFlushing(store: ActivityStore, now: () => Date, retentionMs: () => number): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(store, now().getTime(), retentionMs()), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
