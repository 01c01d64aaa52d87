// Cumulative effects: leases of an agent's bulk budget and their expiry, workload peaks and capacity removed
// (4 -> 2 -> 1), replicas with separate ledgers racing on one shared record store, and the record's bound.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { handleReview, type ReviewDeps } from '../../../src/webhook/handle-review.js';
import { memoryActivityStore, type ActivityStore } from '../../../src/activity/activity-store.js';
import { LeaseLedger } from '../../../src/activity/lease-ledger.js';
import { staticNamespaceDirectory } from '../../../src/cluster/namespace-directory.js';
import {
  activityView, addUnits, BUCKET_MS, FOLD_GRACE_MS, COARSE_MS, COMPACT_AFTER_MS, compacted, type ActivityBucket, capacityRemovedWithin, changesCounter, countWithin, EMPTY_RECORD, MAX_SAMPLES, MAX_WORKLOADS,
  peakWithin, pruned, withPeak, type ActivityRecord,
} from '../../../src/core/activity.js';
import { createLogger } from '../../../src/observability/logger.js';
import { EMPTY_CLUSTER, heldOutNamespaces, heldOutReview, judgeFrom } from '../../helpers/fixtures.js';

const AGENT = 'system:serviceaccount:agents:coder';
const START = Date.UTC(2026, 11, 7, 12);
const HOUR = 3_600_000;

const POLICY = `
params: {maxChanges: 10, maxRemoved: 0.5}
rules:
  - name: bulk
    tier: require-approval
    match: {operations: [CREATE, UPDATE, DELETE], environments: [production], resources: ["*/*"]}
    expression: agent.changes('5m') > params.maxChanges
  - name: capacity
    tier: require-approval
    match: {operations: [UPDATE], environments: [production], resources: ["*/*"]}
    expression: agent.capacityRemoved('1h') > params.maxRemoved
`;

type Clock = { now: number };

function replica(store: ActivityStore, clock: Clock, ledger = new LeaseLedger('replica-a')): ReviewDeps {
  const judge = judgeFrom(POLICY);
  return {
    judge: () => judge, namespaces: staticNamespaceDirectory(heldOutNamespaces()), picture: EMPTY_CLUSTER,
    log: createLogger('silent'), activity: { store, now: () => new Date(clock.now), ledger },
  };
}

/** `kubectl scale deployment NAME --replicas=AFTER` in production (shop-prod), from BEFORE. */
function scale(name: string, before: number, after: number, how: { viaSpec?: boolean; dryRun?: boolean } = {}): AdmissionRequest {
  const request = structuredClone(heldOutReview('agent-scale-production-3-to-2').request);
  request.uid = `uid-${name}-${String(before)}-${String(after)}-${String(Math.random())}`;
  request.name = name;
  if (how.dryRun === true) request.dryRun = true;
  const scaleObject = (replicas: number): Record<string, unknown> => ({ ...request.object, metadata: { ...request.object?.metadata, name }, spec: { replicas } });
  if (how.viaSpec === true) {
    // The same workload through the Deployment itself (kubectl patch / apply), not its scale subresource.
    delete request.subResource;
    const deployment = (replicas: number): Record<string, unknown> => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: 'shop-prod' }, spec: { replicas } });
    request.object = deployment(after);
    request.oldObject = deployment(before);
  } else {
    request.object = scaleObject(after);
    request.oldObject = scaleObject(before);
  }
  return request;
}

/** `kubectl set image` on one production Deployment (an UPDATE that changes no replicas). */
function setImage(name: string, dryRun = false): AdmissionRequest {
  const request = scale(name, 2, 2, { viaSpec: true });
  if (dryRun) request.dryRun = true;
  return request;
}

async function judged(deps: ReviewDeps, request: AdmissionRequest): Promise<{ allowed: boolean; message: string }> {
  const result = await handleReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }, deps);
  if (result.status !== 200) throw new Error(result.body.error);
  return { allowed: result.body.response.allowed, message: result.body.response.status?.message ?? '' };
}

async function stored(store: ActivityStore): Promise<ActivityRecord> {
  const { version, ...record } = await store.read(AGENT);
  return record;
}

/** Committed changes in production, as another replica would count them right now (leases in full). */
async function productionChanges(store: ActivityStore, now: number): Promise<number> {
  return countWithin(activityView(await stored(store), 'someone-else', now, HOUR), changesCounter('production'), 5 * 60_000, 0);
}

describe('leases', () => {
  it('spend locally: one read and one write per lease of 4 units, none for the 3 requests under it', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const deps = replica(store, clock);
    for (let i = 0; i < 4; i++) expect((await judged(deps, setImage(`d${String(i)}`))).allowed).toBe(true);
    expect(store.calls).toBe(2);
    // The whole lease counts as spent for everyone else from the moment it is taken.
    expect(await productionChanges(store, clock.now)).toBe(4);
    // The 5th needs a new lease: the record again (the count above was one more read).
    expect((await judged(deps, setImage('d4'))).allowed).toBe(true);
    expect(store.calls).toBe(2 + 1 + 2);
  });

  it('expire: a replica stops spending a second before expiry, and a dead holder\'s lease counts in full at expiry, folded after a grace', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const a = replica(store, clock, new LeaseLedger('replica-a'));
    expect((await judged(a, setImage('a0'))).allowed).toBe(true);
    clock.now += 4_100;
    const before = store.calls;
    expect((await judged(a, setImage('a1'))).allowed).toBe(true);
    expect(store.calls).toBe(before + 2);
    // replica-a dies holding its second lease (1 of 4 spent): everyone counts it in full, at its expiry.
    clock.now += 6_000;
    const b = replica(store, clock, new LeaseLedger('replica-b'));
    expect((await judged(b, setImage('b0'))).allowed).toBe(true);
    expect((await stored(store)).leases.map((l) => l.replica)).toEqual(['replica-a', 'replica-b']);
    // a0's lease was handed back (1 spent) when a1 leased; a1's lease (4) and b0's lease (4) count in full.
    expect(await productionChanges(store, clock.now)).toBe(1 + 4 + 4);
    // Past the grace a live holder has to hand a lease back, the next writer folds it into the buckets, in full.
    clock.now += FOLD_GRACE_MS;
    expect((await judged(b, setImage('b1'))).allowed).toBe(true);
    const record = await stored(store);
    expect(record.leases.map((l) => l.replica)).toEqual(['replica-b']);
    expect(record.buckets.filter((x) => x.counter === 'changes:production').reduce((n, x) => n + x.count, 0)).toBe(1 + 4 + 1);
    expect(await productionChanges(store, clock.now)).toBe(1 + 4 + 1 + 4);
  });

  it('are handed back at their real spend times by the flush, unspent units returned', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const ledger = new LeaseLedger('replica-a');
    const deps = replica(store, clock, ledger);
    expect((await judged(deps, setImage('f0'))).allowed).toBe(true);
    clock.now += 1_500;
    expect((await judged(deps, setImage('f1'))).allowed).toBe(true);
    await ledger.flush(store, clock.now + 3_000, HOUR);
    const record = await stored(store);
    expect(record.leases).toEqual([]);
    expect(record.buckets).toEqual([{ at: START, counter: 'changes:production', count: 2 }]);
    expect(ledger.agents.size).toBe(0);
  });

  it('never count a dry run or a refused request', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const deps = replica(store, clock);
    for (let i = 0; i < 10; i++) expect((await judged(deps, setImage(`c${String(i)}`))).allowed).toBe(true);
    expect((await judged(deps, setImage('dry', true))).allowed).toBe(false);
    const refused = await judged(deps, setImage('c10'));
    expect(refused).toMatchObject({ allowed: false, message: expect.stringContaining('rule bulk') });
    await (deps.activity?.ledger as LeaseLedger).flush(store, clock.now, HOUR, true);
    expect(await productionChanges(store, clock.now)).toBe(10);
    // A dry run of an allowed change spends nothing either.
    clock.now += 5 * 60_000 + 2 * BUCKET_MS;
    expect((await judged(deps, setImage('dry-ok', true))).allowed).toBe(true);
    await (deps.activity?.ledger as LeaseLedger).flush(store, clock.now, HOUR, true);
    expect(await productionChanges(store, clock.now)).toBe(0);
  });

  it('do not lose a spend made while the same replica\'s record write is in flight', async () => {
    const inner = memoryActivityStore();
    let gate: Promise<void> | undefined;
    let open = (): void => undefined;
    // Writes wait at the gate while it is shut: a slow apiserver while more requests of the same agent arrive.
    const slow: ActivityStore = {
      read: (agent) => inner.read(agent),
      async write(agent, record, version) {
        if (gate !== undefined) await gate;
        return inner.write(agent, record, version);
      },
    };
    const clock = { now: START };
    const ledger = new LeaseLedger('replica-a');
    const deps = replica(slow, clock, ledger);
    expect((await judged(deps, setImage('w0'))).allowed).toBe(true);
    gate = new Promise<void>((done) => { open = done; });
    // w1 lowers replicas (always written, for its peak) and waits at the gate; w2..w4 arrive under the same lease.
    const first = judged(deps, scale('w1', 4, 3));
    await new Promise((done) => setTimeout(done, 20));
    const rest = ['w2', 'w3', 'w4'].map((name) => judged(deps, setImage(name)));
    await new Promise((done) => setTimeout(done, 20));
    gate = undefined;
    open();
    const results = await Promise.all([first, ...rest]);
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true]);
    await ledger.flush(inner, clock.now, HOUR, true);
    expect(await productionChanges(inner, clock.now)).toBe(5);
  });
});

describe('workload peaks and capacity removed', () => {
  it('4 -> 2 is exactly half (allowed), then 2 -> 1 crosses it (75%, refused), and the refusal records no peak', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const deps = replica(store, clock);
    expect((await judged(deps, scale('web', 4, 2))).allowed).toBe(true);
    clock.now += 60_000;
    expect(await judged(deps, scale('web', 2, 1))).toMatchObject({ allowed: false, message: expect.stringContaining('rule capacity') });
    const record = await stored(store);
    expect(record.peaks).toEqual([{ workload: 'apps/deployments/shop-prod/web', samples: [{ at: START, replicas: 4 }] }]);
  });

  it('counts 4 -> 3 -> 2 -> 1 in small steps, through the scale subresource and the Deployment spec alike', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const deps = replica(store, clock);
    expect((await judged(deps, scale('api', 4, 3))).allowed).toBe(true);
    clock.now += 10_000;
    expect((await judged(deps, scale('api', 3, 2, { viaSpec: true }))).allowed).toBe(true);
    clock.now += 10_000;
    expect((await judged(deps, scale('api', 2, 1))).allowed).toBe(false);
    expect((await judged(deps, scale('api', 2, 1, { viaSpec: true }))).allowed).toBe(false);
    // A dry run of the step that was allowed records nothing either.
    expect((await judged(deps, scale('other', 4, 2, { dryRun: true }))).allowed).toBe(true);
    expect((await stored(store)).peaks.map((p) => p.workload)).toEqual(['apps/deployments/shop-prod/api']);
  });

  it('after a human restores 2 -> 4, the agent\'s 4 -> 2 is half of the peak again; 4 -> 1 is not', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const deps = replica(store, clock);
    expect((await judged(deps, scale('shop', 4, 2))).allowed).toBe(true);
    clock.now += 60_000;
    // The human's scale-up never reaches Countersign; the agent's next request sees 4 as before.
    expect((await judged(deps, scale('shop', 4, 2))).allowed).toBe(true);
    expect((await judged(deps, scale('shop', 2, 1))).allowed).toBe(false);
  });

  it('forgets a peak only once all of its 10 s bucket is out of the window (never early)', () => {
    const record = withPeak(EMPTY_RECORD, 'w', 4, START + 9_000);
    const view = (now: number): ReturnType<typeof activityView> => activityView(record, 'me', now, HOUR);
    // Stamped START (its bucket), seen until START + 1h + 10 s: a window is never shorter than asked.
    expect(peakWithin(view(START + HOUR + 9_999), 'w', HOUR)).toBe(4);
    expect(peakWithin(view(START + HOUR + BUCKET_MS), 'w', HOUR)).toBeUndefined();
    expect(pruned(record, START + HOUR + 9_999, HOUR, 'me').peaks).toHaveLength(1);
    expect(capacityRemovedWithin(view(START + HOUR + 5_000), { workload: 'w', before: 2, after: 1 }, HOUR)).toBe(0.75);
  });

  it('keeps a decreasing run of at most MAX_SAMPLES per workload, merging toward the higher count (fails closed)', () => {
    let record: ActivityRecord = EMPTY_RECORD;
    for (let i = 0; i < 40; i++) record = withPeak(record, 'w', 100 - i, START + i * BUCKET_MS);
    const samples = record.peaks[0]?.samples ?? [];
    expect(samples).toHaveLength(MAX_SAMPLES);
    expect(samples[0]?.replicas).toBe(100);
    expect(samples.map((s) => s.replicas)).toEqual([...samples.map((s) => s.replicas)].sort((a, b) => b - a));
    // A higher count later drops the lower samples it dominates.
    record = withPeak(record, 'w', 200, START + 50 * BUCKET_MS);
    expect(record.peaks[0]?.samples).toEqual([{ at: START + 50 * BUCKET_MS, replicas: 200 }]);
  });
});

describe('two replicas, one record', () => {
  it('never let more through than the budget, however their requests interleave, and count every one let through', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const a = replica(store, clock, new LeaseLedger('replica-a'));
    const b = replica(store, clock, new LeaseLedger('replica-b'));
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => judged(i % 2 === 0 ? a : b, setImage(`r${String(i)}`))));
    const allowed = results.filter((r) => r.allowed).length;
    expect(allowed).toBeLessThanOrEqual(10);
    expect(allowed).toBeGreaterThanOrEqual(1);
    for (const deps of [a, b]) await (deps.activity?.ledger as LeaseLedger).flush(store, clock.now, HOUR, true);
    expect(await productionChanges(store, clock.now)).toBe(allowed);
  });

  it('in turn, reach the budget exactly once unspent units are handed back', async () => {
    const store = memoryActivityStore();
    const clock = { now: START };
    const ledgers = [new LeaseLedger('replica-a'), new LeaseLedger('replica-b')];
    const [a, b] = ledgers.map((ledger) => replica(store, clock, ledger));
    const outcomes: boolean[] = [];
    for (let i = 0; i < 14; i++) {
      outcomes.push((await judged(i % 2 === 0 ? a! : b!, setImage(`t${String(i)}`))).allowed);
      clock.now += 100;
    }
    const allowed = outcomes.filter(Boolean).length;
    expect(allowed).toBeLessThanOrEqual(10);
    // Held leases over-count, never under-count: after the flush the rest of the budget is there again.
    for (const ledger of ledgers) await ledger.flush(store, clock.now, HOUR, true);
    const more: boolean[] = [];
    for (let i = 0; i < 12; i++) more.push((await judged(a!, setImage(`u${String(i)}`))).allowed);
    expect(allowed + more.filter(Boolean).length).toBe(10);
    await ledgers[0]!.flush(store, clock.now, HOUR, true);
    expect(await productionChanges(store, clock.now)).toBe(10);
  });
});

describe('the record', () => {
  it('compacts old buckets without changing any window up to 14 minutes, and only ever over-counts longer ones', () => {
    let buckets: ActivityBucket[] = [];
    // A pseudo-random hour and a half of activity in one counter, every few seconds.
    let seed = 7;
    for (let t = 0; t < 1.5 * HOUR; t += 1_000 + (seed % 9_000)) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      buckets = addUnits(buckets, 'deletes', START + t, 1 + (seed % 3));
    }
    const now = START + 1.5 * HOUR;
    const small = compacted(buckets, now);
    expect(small.length).toBeLessThan(buckets.length / 2);
    const count = (b: ActivityBucket[], windowMs: number, at = now): number => countWithin({ now: at, buckets: b, peaks: [], retentionMs: 2 * HOUR }, 'deletes', windowMs, 0);
    for (const windowMs of [60_000, 5 * 60_000, 14 * 60_000]) {
      for (let at = now; at < now + 20 * 60_000; at += 7_000) expect([windowMs, at, count(small, windowMs, at)]).toEqual([windowMs, at, count(buckets, windowMs, at)]);
    }
    for (const windowMs of [15 * 60_000, 30 * 60_000, HOUR]) {
      expect(count(small, windowMs)).toBeGreaterThanOrEqual(count(buckets, windowMs));
      expect(count(small, windowMs)).toBeLessThanOrEqual(count(buckets, windowMs + COARSE_MS));
    }
  });

  it('stays bounded after an hour of buckets and scale-downs of many workloads', () => {
    let record: ActivityRecord = EMPTY_RECORD;
    for (let t = 0; t < 2 * HOUR; t += 1_000) {
      const now = START + t;
      record = pruned({ ...record, buckets: addUnits(addUnits(record.buckets, changesCounter('production'), now, 1), 'deletes', now, 1) }, now, HOUR, 'me');
      if (t % 5_000 === 0) record = withPeak(record, `apps/deployments/shop-prod/w${String(t / 5_000)}`, 4, now);
    }
    // Per counter: 10 s buckets for the last 15 minutes, 1-minute ones for the rest of the hour (+ the edges).
    const perCounter = COMPACT_AFTER_MS / BUCKET_MS + (HOUR - COMPACT_AFTER_MS) / COARSE_MS + 2;
    expect(record.buckets.length).toBeLessThanOrEqual(2 * perCounter);
    expect(record.buckets.length).toBeGreaterThan(2 * (perCounter - 4));
    expect(record.peaks.length).toBe(MAX_WORKLOADS);
    expect(record.peaksOverflowAt).toBeDefined();
    // Past the cap an unknown workload counts as wholly removed while the eviction is in the window.
    const view = activityView(record, 'me', START + 2 * HOUR, HOUR);
    expect(capacityRemovedWithin(view, { workload: 'apps/deployments/shop-prod/evicted', before: 4, after: 3 }, HOUR)).toBe(1);
  });
});
