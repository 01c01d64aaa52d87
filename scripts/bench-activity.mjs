// What bulk budgets cost: activity-record API calls per counted request (memoryActivityStore counts its reads and
// writes), for one replica and for two taking turns, with leases (LEASE_UNITS) and without (a lease of 1 unit: a
// read and a write per request, as the first version did); and the record's size in bytes after an hour.
// Simulated clock, no network, no timing. Run after `npm run -s build`: node scripts/bench-activity.mjs
import { Buffer } from 'node:buffer';
import { memoryActivityStore } from '../dist/activity/activity-store.js';
import { decideWithBudget } from '../dist/webhook/budget-gate.js';
import { LEASE_UNITS, LeaseLedger } from '../dist/activity/lease-ledger.js';
import { addUnits, changesCounter, countWithin, pruned, withPeak, MAX_SAMPLES, MAX_WORKLOADS } from '../dist/core/activity.js';

const AGENT = 'system:serviceaccount:agents:coder';
const START = Date.UTC(2026, 11, 7, 12);
const HOUR = 3_600_000;
// The ledger's timer tick (TICK_MS in lease-ledger.ts).
const FLUSH_MS = 1_000;

/** An UPDATE of a production Deployment that changes no replicas (kubectl set image, label). */
function update(i) {
  return {
    uid: `u${i}`, operation: 'UPDATE', namespace: 'shop-prod', name: `d${i % 30}`,
    resource: { group: 'apps', version: 'v1', resource: 'deployments' },
    userInfo: { username: AGENT, groups: [] },
    object: { spec: { replicas: 2 } }, oldObject: { spec: { replicas: 2 } },
  };
}

/** A judge that allows everything, having read the count (what the edge's decideWith does). */
async function allowAll(activity) {
  countWithin(activity, changesCounter('production'), 5 * 60_000, 1);
  return { allowed: true, dryRun: false, environment: 'production', tier: 'audit', rule: 'production-change', warnings: [], auditAnnotations: {}, fired: [], errored: false };
}

/** `requests` counted requests, `gapMs` apart, spread over `replicas` replicas in turn; flushes as the timer would. */
async function callsPer(requests, replicas, leaseUnits, gapMs) {
  const store = memoryActivityStore();
  const ledgers = Array.from({ length: replicas }, (_, r) => new LeaseLedger(`replica-${r}`, leaseUnits));
  let now = START;
  let nextFlush = START + FLUSH_MS;
  for (let i = 0; i < requests; i++) {
    const ledger = ledgers[i % replicas];
    await decideWithBudget(update(i), allowAll, { store, now: () => new Date(now), retentionMs: HOUR, ledger });
    now += gapMs;
    while (now >= nextFlush) {
      for (const l of ledgers) await l.flush(store, nextFlush, HOUR);
      nextFlush += FLUSH_MS;
    }
  }
  const before = store.calls;
  for (const l of ledgers) await l.flush(store, now, HOUR, true);
  return { total: store.calls, perRequest: (before / requests).toFixed(2), finalFlush: store.calls - before };
}

/** The record's spec as stored (JSON bytes) after an hour: `counters` counters busy every 10 s, `workloads` scaled down repeatedly. */
function recordBytes({ counters, workloads, stepsPerWorkload }) {
  let record = { buckets: [], leases: [], peaks: [] };
  for (let t = 0; t < HOUR; t += 1_000) {
    const now = START + t;
    let buckets = record.buckets;
    for (let c = 0; c < counters; c++) buckets = addUnits(buckets, c === 0 ? 'deletes' : changesCounter(`env-${c}`), now, 1);
    record = pruned({ ...record, buckets }, now, HOUR, 'me');
  }
  for (let w = 0; w < workloads; w++) {
    for (let s = 0; s < stepsPerWorkload; s++) record = withPeak(record, `apps/deployments/shop-prod/workload-${w}`, 1000 - s, START + HOUR - 60_000 + s * 10_000);
  }
  record = { ...record, leases: [{ replica: 'countersign-7d9f-1a2b3c4d', counter: changesCounter('production'), units: LEASE_UNITS, expires: START + HOUR }] };
  const spec = { agent: AGENT, ...record };
  return { bytes: Buffer.byteLength(JSON.stringify(spec)), buckets: record.buckets.length, peaks: record.peaks.length, samples: record.peaks.reduce((n, p) => n + p.samples.length, 0) };
}

console.log(`LEASE_UNITS=${LEASE_UNITS}, MAX_WORKLOADS=${MAX_WORKLOADS}, MAX_SAMPLES=${MAX_SAMPLES}`);
for (const gapMs of [100, 1_000]) {
  for (const replicas of [1, 2]) {
    const leased = await callsPer(100, replicas, LEASE_UNITS, gapMs);
    const baseline = await callsPer(100, replicas, 1, gapMs);
    console.log(`100 counted requests, ${gapMs} ms apart, ${replicas} replica(s): with leases ${leased.total} calls ` +
      `(${leased.perRequest}/request + ${leased.finalFlush} final flush); baseline (lease of 1) ${baseline.total} calls (${baseline.perRequest}/request)`);
  }
}
const typical = recordBytes({ counters: 2, workloads: 5, stepsPerWorkload: 3 });
const busiest = recordBytes({ counters: 4, workloads: MAX_WORKLOADS, stepsPerWorkload: MAX_SAMPLES + 4 });
console.log(`record after an hour, deletes + production changes every second, 5 workloads scaled down 3 times: ${typical.bytes} bytes (${typical.buckets} buckets, ${typical.peaks} workloads, ${typical.samples} samples)`);
console.log(`record after an hour, 4 counters busy every second, ${MAX_WORKLOADS} workloads x ${MAX_SAMPLES}+ steps (the bound): ${busiest.bytes} bytes (${busiest.buckets} buckets, ${busiest.peaks} workloads, ${busiest.samples} samples)`);
