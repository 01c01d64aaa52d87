// npm run bench:apiserver: what an agent waits for, through the real apiserver. One control plane; an agent's
// ConfigMap creates and then deletes in a development namespace (the deletes counted against its budget, which the
// bench policy keeps out of reach), sequential over one keep-alive HTTPS connection with the agent's own token, in
// three phases of the same run:
//   countersign  the production webhook configuration, Countersign judging (its decision lines are counted)
//   vap          no webhook; a ValidatingAdmissionPolicy for agents with an expression of the same kind
//   neither      no admission for agents at all
// Prints p50/p90/p99 per phase and operation, the deletes' p50 per tenth of the run (flat or rising), the
// differences the issue asks about, and the agent's activity record's size.
//
//   npm run bench:apiserver -- [--count N] [--keep]   (N creates then N deletes per phase, default 1000, after a
//                                                     warm-up of N/10; --keep leaves the run's directory)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout } from 'node:timers';
import { URL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPolicy } from './bench-policy.mjs';

const NAMESPACE = 'bench-dev';
const VAP = 'bench-agents';

const { values } = parseArgs({ options: { count: { type: 'string', default: '1000' }, keep: { type: 'boolean', default: false } } });
const COUNT = Number(values.count);
if (!Number.isInteger(COUNT) || COUNT < 10) throw new Error(`--count must be an integer >= 10 (got ${values.count})`);

const harness = await import('../test/harness/control-plane.ts');

function admin(dir, args, input) {
  return harness.kubectl(dir, 'admin', args, input);
}

function send(target, method, path, body) {
  return new Promise((done, fail) => {
    const started = performance.now();
    const req = request(new URL(path, target.server), {
      method, agent: target.agent, ca: target.ca,
      headers: { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' },
    }, (res) => {
      let text = '';
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => { done({ status: res.statusCode, ms: performance.now() - started, text }); });
    });
    req.on('error', fail);
    req.end(body);
  });
}

async function loop(target, phase, count = COUNT) {
  const creates = [];
  const deletes = [];
  for (let i = 0; i < count; i += 1) {
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${phase}-${i}` }, data: { i: String(i) } });
    const answer = await send(target, 'POST', `/api/v1/namespaces/${NAMESPACE}/configmaps`, body);
    if (answer.status !== 201) throw new Error(`${phase}: create ${i} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    creates.push(answer.ms);
  }
  for (let i = 0; i < count; i += 1) {
    const answer = await send(target, 'DELETE', `/api/v1/namespaces/${NAMESPACE}/configmaps/${phase}-${i}`);
    if (answer.status !== 200) throw new Error(`${phase}: delete ${i} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
    deletes.push(answer.ms);
  }
  return { creates, deletes };
}

function quantile(samples, q) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function tenths(samples) {
  const size = Math.floor(samples.length / 10);
  return Array.from({ length: 10 }, (_, i) => quantile(samples.slice(i * size, (i + 1) * size), 0.5));
}

function decisionLines(dir) {
  return readFileSync(join(dir, 'countersign.log'), 'utf8').split('\n').filter((line) => line.includes('"msg":"decision"') && line.includes(`"namespace":"${NAMESPACE}"`)).length;
}

// The VAP's expression is what the default policy's production-delete rule asks, in VAP's vocabulary.
function vapManifest() {
  return `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: ${VAP}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
      - {apiGroups: ["*"], apiVersions: ["*"], resources: ["*"], operations: [CREATE, UPDATE, DELETE]}
  matchConditions:
    - name: agents-only
      expression: request.userInfo.username.startsWith('system:serviceaccount:agents:')
  validations:
    - expression: >-
        request.operation != 'DELETE' || !has(namespaceObject.metadata.labels) ||
        !('environment' in namespaceObject.metadata.labels) || namespaceObject.metadata.labels['environment'] != 'production'
      message: agents may not delete in production
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: ${VAP}}
spec:
  policyName: ${VAP}
  validationActions: [Deny]
`;
}

async function vapLive(target) {
  let last = '';
  for (let attempt = 0; attempt < 120; attempt += 1) {
    const answer = await send(target, 'DELETE', '/api/v1/namespaces/bench-prod/configmaps/probe?dryRun=All');
    // A VAP's Deny answers 422 (reason Invalid) unless the validation names another reason.
    if ((answer.status === 422 || answer.status === 403) && answer.text.includes(VAP)) return;
    last = `${answer.status}: ${answer.text.slice(0, 300)}`;
    await new Promise((done) => { setTimeout(done, 500); });
  }
  throw new Error(`the ValidatingAdmissionPolicy never refused the probe (last answer ${last})`);
}

function row(phase, op, samples) {
  return `  ${phase.padEnd(12)} ${op.padEnd(7)} p50 ${quantile(samples, 0.5).toFixed(2).padStart(6)} ms  p90 ${quantile(samples, 0.9).toFixed(2).padStart(6)} ms  p99 ${quantile(samples, 0.99).toFixed(2).padStart(6)} ms`;
}

const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-apiserver-'));
const policy = await benchPolicy(dir);
const runDir = join(dir, 'run');
await harness.up(runDir, policy);
try {
  admin(runDir, ['create', 'namespace', NAMESPACE]);
  admin(runDir, ['label', 'namespace', NAMESPACE, 'environment=development']);
  const info = JSON.parse(readFileSync(join(runDir, 'cluster', 'control-plane.json'), 'utf8'));
  const target = { server: info.server, ca: readFileSync(info.caFile), token: harness.tokenOf(runDir, 'coder'), agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
  const results = {};
  const judged = {};

  // A warm-up (a tenth of the count, not measured): the first phase must not pay for a cold apiserver and etcd.
  await loop(target, 'warmup', Math.max(10, Math.floor(COUNT / 10)));
  let before = decisionLines(runDir);
  results.countersign = await loop(target, 'countersign');
  judged.countersign = decisionLines(runDir) - before;
  if (judged.countersign < 2 * COUNT) throw new Error(`Countersign logged ${judged.countersign} decisions for ${2 * COUNT} requests`);

  admin(runDir, ['delete', '-f', join(runDir, 'webhook-configuration.yaml')]);
  admin(runDir, ['apply', '-f', '-'], vapManifest());
  // The policy is live once it refuses what it should: an agent's production delete (dry run, nothing removed).
  admin(runDir, ['create', 'namespace', 'bench-prod']);
  admin(runDir, ['label', 'namespace', 'bench-prod', 'environment=production']);
  admin(runDir, ['create', 'configmap', 'probe', '-n', 'bench-prod']);
  await vapLive(target);
  before = decisionLines(runDir);
  results.vap = await loop(target, 'vap');
  judged.vap = decisionLines(runDir) - before;

  admin(runDir, ['delete', 'validatingadmissionpolicybinding', VAP]);
  await new Promise((done) => { setTimeout(done, 3000); });
  before = decisionLines(runDir);
  results.neither = await loop(target, 'neither');
  judged.neither = decisionLines(runDir) - before;
  if (judged.vap !== 0 || judged.neither !== 0) throw new Error(`Countersign judged requests it should not have seen: vap ${judged.vap}, neither ${judged.neither}`);

  const record = admin(runDir, ['get', 'agentactivities', '-n', 'countersign', '-o', 'json']);
  const records = JSON.parse(record).items;
  console.log(`bench:apiserver: ${COUNT} creates then ${COUNT} deletes per phase, sequential, one keep-alive connection, as agents/coder in ${NAMESPACE} (development; budgets counted, thresholds out of reach)`);
  for (const phase of ['countersign', 'vap', 'neither']) {
    console.log(row(phase, 'create', results[phase].creates));
    console.log(row(phase, 'delete', results[phase].deletes));
  }
  const p50 = (phase, op) => quantile(results[phase][op], 0.5);
  console.log(`  deletes' p50 per tenth of the run (ms): countersign ${tenths(results.countersign.deletes).map((v) => v.toFixed(2)).join(' ')}`);
  console.log(`                                          vap         ${tenths(results.vap.deletes).map((v) => v.toFixed(2)).join(' ')}`);
  console.log(`  decisions Countersign logged: countersign ${judged.countersign}, vap ${judged.vap}, neither ${judged.neither}`);
  console.log(`  activity records: ${records.map((r) => `${r.metadata.name} ${JSON.stringify(r).length} bytes, generation ${r.metadata.generation}`).join('; ')}`);
  console.log(`  create: countersign - vap = ${(p50('countersign', 'creates') - p50('vap', 'creates')).toFixed(2)} ms p50 (target <= 1); delete: countersign - vap = ${(p50('countersign', 'deletes') - p50('vap', 'deletes')).toFixed(2)} ms p50 (target <= 3)`);
  console.log(JSON.stringify({ count: COUNT, p50: Object.fromEntries(['countersign', 'vap', 'neither'].map((phase) => [phase, { create: p50(phase, 'creates'), delete: p50(phase, 'deletes') }])), deleteTenths: tenths(results.countersign.deletes) }));
  target.agent.destroy();
} finally {
  await harness.down(runDir);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
