// Bulk counters: what an agent has done in a sliding window (deletes, changes per environment) and the highest
// replica count seen of the workloads it scaled down. The record lives in the Kubernetes API (one object per agent,
// shared by every replica, see src/budgets); this module only counts and reshapes it, given a clock value.
// The record stays bounded whatever the traffic: 10-second buckets (1-minute ones past 15 minutes) dropped past
// retention, at most MAX_WORKLOADS workloads with at most MAX_SAMPLES peak samples each, one lease per replica
// and counter.
import { present } from '../kube/present.js';

/** Counted units of one counter (`deletes`, `changes:<environment>`) in one 10-second bucket. */
export interface ActivityBucket {
  /** Start of the bucket, epoch milliseconds. */
  at: number;
  counter: string;
  count: number;
}

/**
 * Units a replica took from the budget to spend locally. Counted by everyone as spent at `expires` (a spend happens
 * before the lease expires, so a window never misses it), until its holder hands back what it did not spend.
 */
export interface ActivityLease {
  replica: string;
  counter: string;
  units: number;
  /** Epoch milliseconds. */
  expires: number;
}

/** Replica counts seen of a workload before this agent lowered them: a decreasing run, oldest first. */
export interface WorkloadPeak {
  workload: string;
  samples: { at: number; replicas: number }[];
}

export interface ActivityRecord {
  buckets: ActivityBucket[];
  leases: ActivityLease[];
  peaks: WorkloadPeak[];
  /** The last time a workload was evicted past MAX_WORKLOADS (then unknown workloads' peaks are not trusted). */
  peaksOverflowAt?: number;
}

export const EMPTY_RECORD: ActivityRecord = { buckets: [], leases: [], peaks: [] };
export const BUCKET_MS = 10_000;
/** Buckets older than this are merged into COARSE_MS ones (windows up to 14 minutes never see the difference). */
export const COMPACT_AFTER_MS = 15 * 60_000;
export const COARSE_MS = 60_000;
export const MAX_WORKLOADS = 100;
/**
 * Another replica's expired lease is folded into the buckets (in full, at its expiry) only this long after expiry:
 * time for a live holder to hand back what it really spent. Until then every view counts it in full anyway.
 */
export const FOLD_GRACE_MS = 10_000;
export const MAX_SAMPLES = 16;

/** What the decision sees of an agent's recent activity. */
export interface AgentActivity {
  now: number;
  /** Committed buckets and every lease that counts as spent, as buckets. */
  buckets: readonly ActivityBucket[];
  peaks: readonly WorkloadPeak[];
  peaksOverflowAt?: number | undefined;
  /** The longest window a rule may ask about (older entries are dropped when the record is written). */
  retentionMs: number;
}

/** The record could not be read: why (the core refuses rules that need it, saying so). */
export interface ActivityUnavailable {
  unavailable: string;
}

export const DELETES = 'deletes';
export function changesCounter(environment: string): string {
  return `changes:${environment}`;
}

export function bucketOf(time: number): number {
  return Math.floor(time / BUCKET_MS) * BUCKET_MS;
}

/** Units of `counter` within the window ending now, plus `current` (the request being judged, if it counts). */
export function countWithin(activity: AgentActivity, counter: string, windowMs: number, current: number): number {
  const since = activity.now - windowMs;
  let count = current;
  // A bucket is counted if any of it lies in the window: a window is never shorter than asked.
  for (const bucket of activity.buckets) if (bucket.counter === counter && bucket.at + BUCKET_MS > since) count += bucket.count;
  return count;
}

/** Deletes within the window (kept for callers of the first version). */
export function deletesWithin(activity: AgentActivity, windowMs: number, current: number): number {
  return countWithin(activity, DELETES, windowMs, current);
}

/** Adds `count` units at `time` to buckets (merging into the same bucket and counter). */
export function addUnits(buckets: readonly ActivityBucket[], counter: string, time: number, count: number): ActivityBucket[] {
  if (count <= 0) return [...buckets];
  const at = bucketOf(time);
  const index = buckets.findIndex((b) => b.at === at && b.counter === counter);
  if (index < 0) return [...buckets, { at, counter, count }].sort((a, b) => a.at - b.at);
  return buckets.map((b, i) => (i === index ? { ...b, count: b.count + count } : b));
}

/**
 * The record with its history trimmed to retention and other replicas' leases expired for FOLD_GRACE_MS folded
 * into buckets at their expiry (their holders may have died after spending every unit: counted as spent, never
 * forgotten).
 */
export function pruned(record: ActivityRecord, now: number, retentionMs: number, self: string): ActivityRecord {
  let buckets = [...record.buckets];
  const leases: ActivityLease[] = [];
  for (const lease of record.leases) {
    if (lease.replica !== self && lease.expires + FOLD_GRACE_MS < now) buckets = addUnits(buckets, lease.counter, lease.expires, lease.units);
    else leases.push(lease);
  }
  const since = now - retentionMs;
  const peaks = record.peaks
    .map((p) => ({ workload: p.workload, samples: p.samples.filter((s) => s.at + BUCKET_MS > since) }))
    .filter((p) => p.samples.length > 0);
  const overflow = record.peaksOverflowAt !== undefined && record.peaksOverflowAt > since ? { peaksOverflowAt: record.peaksOverflowAt } : {};
  return { buckets: compacted(buckets, now).filter((b) => b.at + BUCKET_MS > since), leases, peaks, ...overflow };
}

/**
 * Buckets wholly older than COMPACT_AFTER_MS merged per counter into the last 10-second bucket of their minute:
 * a unit is only ever moved later, so every window counts it at least as long as before (a window longer than
 * 14 minutes may count it up to 50 s longer; a shorter one cannot reach a moved bucket). Six times fewer entries
 * for the older part of an hour's retention.
 */
export function compacted(buckets: readonly ActivityBucket[], now: number): ActivityBucket[] {
  const cutoff = now - COMPACT_AFTER_MS;
  const merged = new Map<string, ActivityBucket>();
  for (const bucket of buckets) {
    const old = bucket.at + BUCKET_MS <= cutoff;
    const at = old ? Math.floor(bucket.at / COARSE_MS) * COARSE_MS + COARSE_MS - BUCKET_MS : bucket.at;
    const key = `${String(at)} ${bucket.counter}`;
    const held = merged.get(key);
    merged.set(key, { at, counter: bucket.counter, count: (held?.count ?? 0) + bucket.count });
  }
  return [...merged.values()].sort((a, b) => a.at - b.at);
}

/** What a replica decides with: the record's buckets plus every lease but its own, counted as spent. */
export function activityView(record: ActivityRecord, self: string, now: number, retentionMs: number): AgentActivity {
  let buckets = record.buckets;
  for (const lease of record.leases) if (lease.replica !== self) buckets = addUnits(buckets, lease.counter, lease.expires, lease.units);
  return { now, buckets, peaks: record.peaks, peaksOverflowAt: record.peaksOverflowAt, retentionMs };
}

/**
 * The highest replica count of `workload` seen within the window, or undefined when the record has none. A sample
 * is stamped with the start of its 10-second bucket: like a bucket, it counts while any of that bucket lies in the
 * window (the window is never shorter than asked, up to 10 s longer).
 */
export function peakWithin(activity: AgentActivity, workload: string, windowMs: number): number | undefined {
  const since = activity.now - windowMs;
  const samples = activity.peaks.find((p) => p.workload === workload)?.samples.filter((s) => s.at + BUCKET_MS > since) ?? [];
  return samples.length === 0 ? undefined : Math.max(...samples.map((s) => s.replicas));
}

/**
 * The fraction of a workload's peak within the window that is gone after a change to `after` replicas. Past the
 * workload cap, a workload the record does not know may have had its peak evicted: it counts as fully removed
 * (fail closed) until the eviction leaves the window.
 */
export function capacityRemovedWithin(activity: AgentActivity, change: { workload: string; before: number; after: number } | undefined, windowMs: number): number {
  if (change === undefined || change.after >= change.before) return 0;
  const known = peakWithin(activity, change.workload, windowMs);
  if (known === undefined && activity.peaksOverflowAt !== undefined && activity.peaksOverflowAt > activity.now - windowMs) return 1;
  const peak = Math.max(known ?? 0, change.before);
  return peak <= 0 ? 0 : Math.min(1, Math.max(0, (peak - Math.max(0, change.after)) / peak));
}

/**
 * The peaks after a workload was lowered from `before`: a sample dominated by a later, higher one is dropped (it can
 * never be the maximum of a window that ends now or later); past MAX_SAMPLES the two oldest merge into one with the
 * higher count at the later time (over-remembers, fails closed); past MAX_WORKLOADS the least recently lowered
 * workload is evicted and the overflow noted.
 */
export function withPeak(record: ActivityRecord, workload: string, before: number, now: number): ActivityRecord {
  const at = bucketOf(now);
  const existing = record.peaks.find((p) => p.workload === workload);
  let samples = (existing?.samples ?? []).filter((s) => s.replicas > before);
  samples.push({ at, replicas: before });
  while (samples.length > MAX_SAMPLES) {
    const [a, b, ...rest] = samples;
    if (a === undefined || b === undefined) break;
    samples = [{ at: b.at, replicas: Math.max(a.replicas, b.replicas) }, ...rest];
  }
  let peaks = [...record.peaks.filter((p) => p.workload !== workload), { workload, samples }];
  let overflow = record.peaksOverflowAt;
  while (peaks.length > MAX_WORKLOADS) {
    const latest = (p: WorkloadPeak): number => p.samples.at(-1)?.at ?? 0;
    const oldest = peaks.reduce((min, p) => (latest(p) < latest(min) ? p : min));
    peaks = peaks.filter((p) => p !== oldest);
    overflow = now;
  }
  return { ...record, peaks, ...present({ peaksOverflowAt: overflow }) };
}

/** A write counts as one change (CONNECT does not: it changes no object). */
export function isCountedWrite(operation: string): boolean {
  return operation === 'CREATE' || operation === 'UPDATE' || operation === 'DELETE';
}
