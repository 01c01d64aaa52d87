// Decision-path benchmark: handleReview (decode + classify + namespace lookup + CEL + decision + log + metrics) on
// real AdmissionReview bodies, as a ratio to JSON.parse of the same body measured in the same run (machines here are
// shared and noisy: absolute figures mean little, ratios travel). Usage: npm run bench:decide
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { handleReview } from '../dist/webhook/handle-review.js';
import { staticNamespaceDirectory } from '../dist/cluster/namespace-directory.js';
import { DEFAULT_CONFIG_URL, loadConfigText } from '../dist/config/load.js';
import { memoryActivityStore } from '../dist/activity/activity-store.js';
import { createJudge } from '../dist/core/decide.js';
import { createLogger } from '../dist/observability/logger.js';
import { createMetrics } from '../dist/observability/metrics.js';
import { tableIdentityPower } from '../dist/cluster/table-identity-power.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DIR = join(HERE, '..', 'test', 'fixtures', 'held-out');
// The default policy with its bulk thresholds out of reach: every iteration is the same agent, and the benchmark
// measures the decision path, not the refusal once a budget is spent. The counters are still read and spent.
const policyText = readFileSync(fileURLToPath(DEFAULT_CONFIG_URL), 'utf8')
  .replace(/(deletesPerMinute|maxChangesPer5m|maxChangesPerHour): \d+/g, '$1: 1000000000')
  .replace(/maxRemovedPerHour: [0-9.]+/, 'maxRemovedPerHour: 1.0');
const loaded = loadConfigText(policyText, 'default.yaml (bulk thresholds raised)');
if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
const judge = createJudge(loaded.policy);
const namespaces = staticNamespaceDirectory(JSON.parse(readFileSync(join(DIR, 'cluster.json'), 'utf8')).items);
// A real log line is written per decision (to /dev/null) so the figure includes it, as in production.
const { default: pino } = await import('pino');
const log = createLogger('info', pino.destination({ dest: '/dev/null', sync: true }));
// Workload identities answered from a table (nobody holds a dangerous right): the decision path, not the apiserver's
// SubjectAccessReviews (cached 30 s in production; measured by test/e2e/identity-power.test.ts).
const deps = {
  judge: () => judge, namespaces, log, metrics: createMetrics(false), identities: tableIdentityPower({}),
  activity: { store: memoryActivityStore(), now: () => new Date() },
};

const cases = {
  'human (fast path)': 'human-delete-production-deployment',
  'agent create, allowed': 'agent-create-development-pod',
  'agent create, audited': 'agent-create-production-configmap',
  'agent delete, gated': 'agent-delete-production-deployment',
  'agent RBAC, comprehension rule': 'agent-create-escalating-role',
  'agent scale-down, effects': 'agent-scale-production-3-to-2',
};

async function rate(fn, ms = 1500) {
  for (let i = 0; i < 2000; i += 1) await fn(); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < until) {
    for (let i = 0; i < 200; i += 1) await fn();
    n += 200;
  }
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

console.log('case                              decisions/s   JSON.parse/s   ratio   µs/decision');
for (const [label, file] of Object.entries(cases)) {
  const body = readFileSync(join(DIR, 'reviews', `${file}.json`), 'utf8');
  const baseline = await rate(async () => JSON.parse(body));
  const decisions = await rate(() => handleReview(body, deps));
  console.log(`${label.padEnd(34)}${decisions.toFixed(0).padStart(11)}   ${baseline.toFixed(0).padStart(12)}   ${(decisions / baseline).toFixed(3).padStart(5)}   ${(1e6 / decisions).toFixed(1).padStart(8)}`);
}
