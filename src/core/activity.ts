// Bulk budgets: how many destructive operations an agent has performed in a sliding window. The record lives in
// the Kubernetes API (one object per agent, shared by every replica); this module only counts, given a clock value.

/** One second's worth of an agent's deletes. */
export interface ActivityEntry {
  /** Start of the second, epoch milliseconds. */
  at: number;
  count: number;
}

/** What the decision sees of an agent's recent deletes. */
export interface AgentActivity {
  now: number;
  deletes: readonly ActivityEntry[];
  /** The longest window a rule may ask about (older entries are dropped when the record is written). */
  retentionMs: number;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The record could not be read: why (the core refuses rules that need it, saying so). */
export interface ActivityUnavailable {
  unavailable: string;
}

/** A Go-style duration without sign or fractions: `90s`, `10m`, `1h30m`. */
export function parseWindow(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** Deletes within the window ending now, plus `current` (the request being judged, if it is one). */
export function deletesWithin(activity: AgentActivity, windowMs: number, current: number): number {
  const since = activity.now - windowMs;
  let count = current;
  // A bucket holds a whole second: count it if any of it lies in the window (a window never shorter than asked).
  for (const entry of activity.deletes) if (entry.at + 1000 > since) count += entry.count;
  return count;
}

/** The record after one more delete: this second's bucket grows, entries past retention go. */
export function withDelete(activity: AgentActivity, weight = 1): ActivityEntry[] {
  const second = Math.floor(activity.now / 1000) * 1000;
  const kept = activity.deletes.filter((entry) => entry.at > activity.now - activity.retentionMs);
  const last = kept.at(-1);
  if (last?.at === second) return [...kept.slice(0, -1), { at: second, count: last.count + weight }];
  return [...kept, { at: second, count: weight }];
}
