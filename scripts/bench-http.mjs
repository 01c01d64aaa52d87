// HTTP benchmark (issue 16, part 4): `countersign serve` against a minimal Fastify HTTPS server, on the same core in
// turn, driven with the same AdmissionReview bodies over HTTPS on 127.0.0.1.
//   - minimal:     Fastify (the version Countersign uses, with its server options), one POST route that parses the
//                  JSON body and answers a fixed allowed AdmissionReview echoing the uid
//   - countersign: `countersign serve` with the default policy (its bulk thresholds raised out of reach, as in
//                  bench:decide: one agent sends every request), the offline snapshot test/fixtures/captured/cluster.json,
//                  one JSON log line per decision written to a file
// Both serve an ECDSA P-256 certificate made with openssl. A fresh server for every (round, body, server); the
// servers' order alternates from round to round. Each run has two phases, each with a warm-up:
//   saturation  closed loop: C connections kept alive, each sending its next request when the last is answered
//   fixed rate  open loop: R requests a second scheduled by the clock (a slow answer never delays the next send),
//               latency from the actual send, the scheduling lag reported apart
// The load generator is test/loadgen (Go, built here on first use): the apiserver's own client stack (net/http,
// keep-alive, 25 idle connections per host, no cap on connections, full handshakes), costing far less CPU per request
// than a Node client, so the server is what saturates. It counts the TLS connections it opens and reads the server's
// utime+stime (/proc/PID/stat) and every core's busy and steal time at the edges of the measured window.
// Usage: npm run bench:http [-- --rounds 3 --seconds 5 --rate 1000 --concurrency 32 --warmup 1]
import { spawn, spawnSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { closeSync, createReadStream, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPolicy } from './bench-policy.mjs';

const SELF = fileURLToPath(import.meta.url);
const ROOT = join(dirname(SELF), '..');
const CAPTURED = join(ROOT, 'test', 'fixtures', 'captured');
const HOST = '127.0.0.1';
/** The apiserver's webhook timeout default; also the cap on any one request here. */
const REQUEST_TIMEOUT_MS = 10_000;
/** test/loadgen checks one answer in this many (uid echoed, allowed as expected); it skips sends past 5,000 in flight. */
const CHECK_EVERY = 64;
/** A window is flagged when others used more than this of core 0 or the hypervisor stole more than this. */
const DISTURBED = 0.1;
/** A saturation window is flagged client-bound when the load generator used more than this of its core. */
const CLIENT_BOUND = 0.9;

// --- the minimal server (this file run with --minimal-server CERT KEY PORT) ------------------------------------
async function minimalServer([cert, key, port]) {
  const { default: Fastify } = await import('fastify');
  // Countersign's server options (src/server/app.ts), Fastify's own JSON parser.
  const app = Fastify({
    https: { cert: readFileSync(cert), key: readFileSync(key) },
    bodyLimit: 7 * 1024 * 1024, logger: false, keepAliveTimeout: 75_000, requestTimeout: 30_000,
  });
  app.post('/validate', async (request) => ({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    response: { uid: request.body?.request?.uid ?? '', allowed: true },
  }));
  await app.listen({ host: HOST, port: Number(port) });
}

// --- settings ----------------------------------------------------------------------------------------------------
function settingsFrom(argv) {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '5' }, rate: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '32' }, warmup: { type: 'string', default: '1' },
      // Node flags for both servers alike (e.g. --node-flag=--single-threaded-gc), to test where CPU goes.
      'node-flag': { type: 'string', multiple: true, default: [] },
    },
  });
  const number = (name, min, max) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name}: a number from ${min} to ${max} (got ${values[name]})`);
    return value;
  };
  return {
    rounds: Math.round(number('rounds', 1, 10)), seconds: number('seconds', 1, 60), rate: number('rate', 10, 5000),
    concurrency: Math.round(number('concurrency', 1, 256)), warmup: number('warmup', 0, 10),
    nodeFlags: values['node-flag'],
  };
}

function bodies() {
  const expected = JSON.parse(readFileSync(join(CAPTURED, 'expected.json'), 'utf8'));
  const review = (name) => JSON.parse(readFileSync(join(CAPTURED, 'reviews', `${name}.json`), 'utf8'));
  const pick = (label, name, tier) => {
    if (expected[name]?.tier !== tier) throw new Error(`${name}: expected.json says ${expected[name]?.tier}, this benchmark wants ${tier}`);
    return { label, name, review: review(name), allowed: expected[name].allowed };
  };
  // The captured reviews are all agents'; the human's request is the gated delete with a person's userInfo
  // (dev-a, as in the held-out set): the fast path, allowed before any rule runs.
  const human = pick('human', 'delete-production-deployment', 'require-approval');
  human.review.request.userInfo = { username: 'dev-a', uid: 'dev-a', groups: ['developers', 'system:authenticated'] };
  Object.assign(human, { name: 'delete-production-deployment as dev-a', allowed: true });
  return [pick('audited create', 'create-production-configmap', 'audit'), pick('gated delete', 'delete-production-deployment', 'require-approval'), human]
    .map((b) => ({ ...b, uid: b.review.request.uid, body: Buffer.from(JSON.stringify(b.review)) }));
}

function certificate(dir) {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=IP:${HOST}`], { encoding: 'utf8', timeout: 30_000 });
  if (made.status !== 0) throw new Error(`openssl could not make the certificate: ${made.error?.message ?? made.stderr}`);
  return { cert, key, ca: readFileSync(cert) };
}

/** Server on core 0, this process (the load generator, every thread) on core 1, when taskset and 2 cores exist. */
function pinning() {
  const found = spawnSync('taskset', ['-V'], { timeout: 5000 }).status === 0;
  if (!found || cpus().length < 2) return { pinned: false, note: `not pinned (${found ? 'fewer than 2 cores' : 'taskset not found'})` };
  const self = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { timeout: 5000 });
  if (self.status !== 0) return { pinned: false, note: 'not pinned (taskset could not pin the load generator)' };
  return { pinned: true, note: 'server pinned to core 0 (taskset -c 0), load generator to core 1 (taskset -a -p -c 1)' };
}

// --- servers -----------------------------------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => { resolve(port); });
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => { resolve(false); });
  });
}

const live = new Set();

async function startServer(kind, env) {
  const port = await freePort();
  const log = join(env.dir, `${kind}.log`);
  const args = [...env.settings.nodeFlags, ...(kind === 'minimal'
    ? [SELF, '--minimal-server', env.tls.cert, env.tls.key, String(port)]
    : [join(ROOT, 'dist', 'cli', 'main.js'), 'serve', '--tls-cert', env.tls.cert, '--tls-key', env.tls.key, '--cluster', join(CAPTURED, 'cluster.json'),
        '--config', env.policy, '--address', HOST, '--port', String(port)])];
  const out = openSync(log, 'w');
  const command = env.pin.pinned ? ['taskset', ['-c', '0', process.execPath, ...args]] : [process.execPath, args];
  const child = spawn(command[0], command[1], { cwd: ROOT, stdio: ['ignore', out, out] });
  closeSync(out);
  live.add(child);
  let exited = false;
  child.once('exit', () => { exited = true; live.delete(child); });
  const until = performance.now() + 30_000;
  while (!exited && performance.now() < until && !(await canConnect(port))) await sleep(50);
  if (exited || performance.now() >= until) {
    child.kill('SIGKILL');
    throw new Error(`${kind} did not start: ${readFileSync(log, 'utf8').slice(-2000)}`);
  }
  return { kind, port, log, pid: child.pid, child, exited: () => exited };
}

async function stopServer(server) {
  if (!server.exited()) server.child.kill('SIGTERM');
  const until = performance.now() + 15_000;
  while (!server.exited() && performance.now() < until) await sleep(20);
  if (!server.exited()) server.child.kill('SIGKILL');
}

/** Lines in the server's log (countersign: one per decision, plus its start and stop lines). */
async function countLines(file) {
  let lines = 0;
  for await (const chunk of createReadStream(file)) for (const byte of chunk) if (byte === 10) lines += 1;
  return lines;
}

// --- measurement: test/loadgen (Go) drives the server and reads its CPU; this script only orchestrates ----------
const LOADGEN_DIR = join(ROOT, 'test', 'loadgen');
const LOADGEN = join(LOADGEN_DIR, 'bin', 'loadgen');

/** Builds the load generator from its Go source (standard library only, a few seconds) when it is missing or older. */
function buildLoadgen() {
  const sources = [join(LOADGEN_DIR, 'main.go'), join(LOADGEN_DIR, 'go.mod')];
  if (existsSync(LOADGEN) && sources.every((file) => statSync(LOADGEN).mtimeMs >= statSync(file).mtimeMs)) return;
  const built = spawnSync('go', ['build', '-trimpath', '-o', LOADGEN, '.'], { cwd: LOADGEN_DIR, encoding: 'utf8', timeout: 300_000 });
  if (built.status !== 0) throw new Error(`could not build test/loadgen (needs Go): ${built.error?.message ?? built.stderr}`);
}

/** One measured window: the load generator on core 1 (when pinned) against the server, its JSON result. */
function drive(server, job, env, mode) {
  const { settings } = env;
  const args = ['-url', `https://${HOST}:${server.port}/validate`, '-mode', mode, '-body', job.file, `-allowed=${job.expect.allowed}`,
    '-c', String(settings.concurrency), '-rate', String(settings.rate), '-warmup', `${settings.warmup}s`, '-d', `${settings.seconds}s`, '-timeout', `${REQUEST_TIMEOUT_MS}ms`, '-pid', String(server.pid)];
  const command = env.pin.pinned ? ['taskset', ['-c', '1', LOADGEN, ...args]] : [LOADGEN, args];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command[1], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk) => { out += chunk; });
    child.stderr.on('data', (chunk) => { err += chunk; });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) { reject(new Error(`loadgen exited ${code}: ${err.slice(-2000)}`)); return; }
      const r = JSON.parse(out);
      resolve({ ...r, cpuUs: r.serverCpuUsPerRequest, p50: r.p50Ms, p99: r.p99Ms, lagP99: r.lagP99Ms, load: { other: env.pin.pinned ? r.otherLoadOfServerCore : undefined, steal: r.steal, client: r.clientLoad } });
    });
  });
}

async function run(kind, body, env) {
  const server = await startServer(kind, env);
  const job = { file: body.file, expect: { allowed: kind === 'minimal' ? true : body.allowed } };
  try {
    const sat = await drive(server, job, env, 'sat');
    const fixed = await drive(server, job, env, 'rate');
    await stopServer(server);
    const logLines = kind === 'countersign' ? await countLines(server.log) : undefined;
    return { kind, sat, fixed, logLines, requests: sat.answered + fixed.answered };
  } finally {
    await stopServer(server);
    rmSync(server.log, { force: true });
  }
}

// --- output ------------------------------------------------------------------------------------------------------
const pct = (v) => (v === undefined ? '  -' : `${Math.round(v * 100)}%`.padStart(4));
const fix = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

function flags(r) {
  const loads = [r.sat.load, r.fixed.load];
  return [
    loads.some((l) => (l.other ?? 0) > DISTURBED || l.steal > DISTURBED) ? 'DISTURBED' : '',
    r.sat.load.client > CLIENT_BOUND ? 'CLIENT-BOUND' : '',
  ].filter((f) => f !== '');
}

function row(r) {
  const failures = r.sat.errors + r.sat.wrong + r.fixed.errors + r.fixed.wrong + r.fixed.skipped;
  const log = r.logLines === undefined ? '' : `  log ${r.logLines} lines / ${r.requests} requests`;
  return `  ${r.kind.padEnd(12)}${Math.round(r.sat.rps).toString().padStart(8)}${fix(r.sat.cpuUs, 0).padStart(7)}${String(r.sat.opened).padStart(6)}` +
    ` |${fix(r.fixed.p50, 2).padStart(8)}${fix(r.fixed.p99, 2).padStart(8)}${fix(r.fixed.lagP99, 2).padStart(8)}${String(r.fixed.opened).padStart(6)}${fix(r.fixed.cpuUs, 0).padStart(7)}` +
    ` | ${String(failures).padStart(4)} | other ${pct(r.sat.load.other)}/${pct(r.fixed.load.other)} steal ${pct(r.sat.load.steal)}/${pct(r.fixed.load.steal)}` +
    ` client ${pct(r.sat.load.client)}/${pct(r.fixed.load.client)}${log}${flags(r).map((f) => `  ${f}`).join('')}`;
}

function ratios(m, c) {
  return {
    throughput: c.sat.rps / m.sat.rps, cpu: c.sat.cpuUs / m.sat.cpuUs, p99: c.fixed.p99 / m.fixed.p99, conns: c.fixed.opened / Math.max(1, m.fixed.opened),
  };
}

function spread(values, whole = false) {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return 'n/a';
  const mid = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const digits = whole || mid >= 100 ? 0 : mid >= 10 ? 1 : 2;
  return sorted.length === 1 ? mid.toFixed(digits) : `${mid.toFixed(digits)} [${sorted[0].toFixed(digits)}-${sorted[sorted.length - 1].toFixed(digits)}]`;
}

function flagCount(rounds) {
  const all = rounds.flatMap((r) => [r.minimal, r.countersign]).map(flags);
  const count = (f) => all.filter((list) => list.includes(f)).length;
  return `${count('DISTURBED')} disturbed, ${count('CLIENT-BOUND')} client-bound of ${all.length}`;
}

const TARGETS = { 'audited create': ' (issue 16 asks >= 0.8)', 'gated delete': ' (issue 16 asks >= 0.6)', human: '' };

function summary(label, rounds, rate) {
  const m = rounds.map((r) => r.minimal);
  const c = rounds.map((r) => r.countersign);
  const q = rounds.map((r) => ratios(r.minimal, r.countersign));
  return `${label.padEnd(15)} throughput ratio ${spread(q.map((x) => x.throughput))}${TARGETS[label]}; req/s minimal ${spread(m.map((x) => x.sat.rps))}, countersign ${spread(c.map((x) => x.sat.rps))}` +
    `; CPU µs/req minimal ${spread(m.map((x) => x.sat.cpuUs))}, countersign ${spread(c.map((x) => x.sat.cpuUs))}` +
    `; at ${rate}/s p99 ms minimal ${spread(m.map((x) => x.fixed.p99))}, countersign ${spread(c.map((x) => x.fixed.p99))} (ratio ${spread(q.map((x) => x.p99))})` +
    `; connections opened minimal ${spread(m.map((x) => x.fixed.opened), true)}, countersign ${spread(c.map((x) => x.fixed.opened), true)}` +
    `; CPU ratio ${spread(q.map((x) => x.cpu))}; flagged runs: ${flagCount(rounds)}`;
}

async function main() {
  const settings = settingsFrom(process.argv.slice(2));
  process.on('exit', () => { for (const child of live) child.kill('SIGKILL'); });
  process.on('SIGINT', () => { process.exit(130); });
  buildLoadgen();
  const perRun = 2 * (settings.warmup + settings.seconds) + REQUEST_TIMEOUT_MS / 1000 + 35;
  const deadline = settings.rounds * 6 * perRun + 60;
  setTimeout(() => { console.error(`bench:http: over its ${deadline} s deadline; stopping`); process.exit(2); }, deadline * 1000).unref();
  const dir = mkdtempSync(join(tmpdir(), 'countersign-bench-http-'));
  try {
    const env = { settings, dir, tls: certificate(dir), policy: await benchPolicy(dir), pin: pinning() };
    const list = bodies().map((b) => {
      const file = join(dir, `${b.label.replace(/ /g, '-')}.json`);
      writeFileSync(file, b.body);
      return { ...b, file };
    });
    console.log(`bench:http: ${env.pin.note}; ${settings.rounds} round(s); saturation ${settings.concurrency} connections, ${settings.seconds} s;` +
      ` fixed rate ${settings.rate}/s for ${settings.seconds} s; ${settings.warmup} s warm-up before each; a fresh server per run; ECDSA P-256; HTTPS on ${HOST}`);
    console.log('  countersign: default policy with bulk thresholds raised, snapshot test/fixtures/captured/cluster.json, log line per decision to a file');
    console.log('  columns: sat = saturation (closed loop), rate = fixed rate (open loop); conns = TLS connections the client opened, warm-up included;' +
      ' CPUµs = server CPU per request answered in the measured window; lagp99 = the client\'s own scheduling lag;' +
      ` fail = not 200, a wrong answer (1 in ${CHECK_EVERY} checked) or a request not sent`);
    const results = new Map(list.map((b) => [b.label, []]));
    for (let round = 0; round < settings.rounds; round += 1) {
      for (const body of list) {
        const order = round % 2 === 0 ? ['minimal', 'countersign'] : ['countersign', 'minimal'];
        const pair = {};
        for (const kind of order) pair[kind] = await run(kind, body, env);
        results.get(body.label).push(pair);
        const q = ratios(pair.minimal, pair.countersign);
        console.log(`\nround ${round + 1}/${settings.rounds} · ${body.label} (${body.name}, ${body.body.length} B; countersign should answer allowed=${body.allowed})`);
        console.log('  server       sat req/s CPUµs conns | rate p50ms  p99ms lagp99 conns  CPUµs | fail | load sat/rate (core 0 other, steal, client of core 1)');
        for (const kind of order) console.log(row(pair[kind]));
        console.log(`  countersign/minimal: throughput ${fix(q.throughput, 2)}x, CPU per request ${fix(q.cpu, 2)}x, p99 at ${settings.rate}/s ${fix(q.p99, 2)}x, connections opened ${fix(q.conns, 2)}x`);
      }
    }
    console.log(`\nsummary over ${settings.rounds} round(s), median [min-max], flagged runs included (DISTURBED: other load > ${DISTURBED * 100}% of` +
      ` core 0 or steal > ${DISTURBED * 100}%; CLIENT-BOUND: the load generator > ${CLIENT_BOUND * 100}% of its core at saturation, so that server's` +
      ' throughput is the client\'s limit; CPU per request is not affected):');
    for (const [label, rounds] of results) console.log(summary(label, rounds, settings.rate));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--minimal-server') {
  await minimalServer(process.argv.slice(3));
} else {
  await main();
}
