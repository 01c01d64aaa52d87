// Brings up a real control plane (the Go harness: etcd, kube-apiserver, kube-controller-manager), the identities,
// Countersign itself, and the production webhook configuration; or tears all of it down.
//
//   node test/harness/control-plane.ts up --dir DIR [--config FILE]
//   node test/harness/control-plane.ts down --dir DIR
import { fileURLToPath } from 'node:url';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));

export const ROOT = resolve(HERE, '..', '..');
export const CPLANE = join(ROOT, 'test', 'control-plane', 'bin', 'cplane');
export const KUBECTL = join(ROOT, 'test', 'control-plane', 'bin', 'kubectl');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const HELM = join(ROOT, 'test', 'helm', 'bin', 'helm');
export const IDENTITIES = ['admin', 'sre-a', 'sre-b', 'dev-a', 'coder', 'ops-bot', 'sweeper'] as const;
export type Identity = (typeof IDENTITIES)[number];

/** What Countersign logs once its cluster picture is complete. */
const PICTURE_SYNCED = 'cluster picture synced';

export interface ControlPlaneInfo {
  server: string;
  caFile: string;
  tokens: Record<string, string>;
  pids: Record<string, number>;
  version: string;
}

export interface Pids {
  cplane: number;
  countersign: number;
}

function log(message: string): void {
  process.stderr.write(`[control-plane] ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => { done(port); });
    });
  });
}

export function kubeconfigPath(dir: string, identity: string): string {
  return join(dir, 'kubeconfigs', `${identity}.kubeconfig`);
}

/** The bearer token in an identity's kubeconfig (as the harness wrote it), for clients that call the apiserver directly. */
export function tokenOf(dir: string, identity: string): string {
  const match = /token: "([^"]+)"/.exec(readFileSync(kubeconfigPath(dir, identity), 'utf8'));
  if (match?.[1] === undefined) throw new Error(`no token in ${identity}'s kubeconfig`);
  return match[1];
}

/** Runs the kubectl built with the control plane (the same version as the server) and returns stdout. */
export function kubectl(dir: string, identity: string, args: string[], input?: string): string {
  return execFileSync(KUBECTL, ['--kubeconfig', kubeconfigPath(dir, identity), ...args], {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, PATH: pluginPath(dir) },
    ...(input === undefined ? {} : { input }),
  });
}

function writeKubeconfig(dir: string, identity: string, info: ControlPlaneInfo, token: string): void {
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: countersign-e2e`,
    `  cluster: {server: "${info.server}", certificate-authority: "${info.caFile}"}`,
    'users:',
    `- name: ${identity}`,
    `  user: {token: "${token}"}`,
    'contexts:',
    `- name: ${identity}`,
    `  context: {cluster: countersign-e2e, user: ${identity}}`,
    `current-context: ${identity}`,
    '',
  ].join('\n');
  writeFileSync(kubeconfigPath(dir, identity), text, { mode: 0o600 });
}

/** Starts a process that outlives this one, its output appended to `logFile`; returns its pid. */
export function startDetached(command: string, args: string[], logFile: string): number {
  const out = openSync(logFile, 'a');
  const child = spawn(command, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  return child.pid;
}

function makeServingCert(dir: string): { certFile: string; keyFile: string; caFile: string } {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'tls.key');
  const csr = join(dir, 'tls.csr');
  const certFile = join(dir, 'tls.crt');
  const ext = join(dir, 'tls.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', '/CN=countersign-e2e-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', keyFile, '-out', csr, '-subj', '/CN=countersign'], { stdio: 'ignore' });
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-out', certFile, '-days', '2', '-extfile', ext], { stdio: 'ignore' });
  return { certFile, keyFile, caFile };
}

/**
 * The self-defence policies in static form (kube-apiserver manifest-based admission): written before the apiserver
 * starts, loaded from files, beyond the reach of any API call. Returns the AdmissionConfiguration file.
 */
function writeStaticSelfDefence(dir: string, config: string | undefined): string {
  const admission = execFileSync(process.execPath, [CLI, 'self-defence-policy', '--static', join(dir, 'static-admission'), ...(config === undefined ? [] : ['--config', config])], { encoding: 'utf8' });
  const file = join(dir, 'admission-configuration.yaml');
  writeFileSync(file, admission);
  return file;
}

/**
 * Starts `cplane run` on DIR/cluster and waits for its READY line (only what it logs after `since` counts). The static
 * admission configuration is passed when `writeStaticSelfDefence` wrote one.
 */
export async function runControlPlane(dir: string, extra: string[], since = 0): Promise<{ info: ControlPlaneInfo; pid: number; apiserverReadyAt: number }> {
  if (!existsSync(CPLANE)) throw new Error(`${CPLANE} is missing: build it with \`npm run control-plane:build\` (bash test/control-plane/build.sh)`);
  const logFile = join(dir, 'cplane.log');
  const admissionConfig = join(dir, 'admission-configuration.yaml');
  const admission = existsSync(admissionConfig) ? ['--admission-control-config-file', admissionConfig] : [];
  const pid = startDetached(CPLANE, ['run', '--dir', join(dir, 'cluster'), ...admission, ...extra], logFile);
  let apiserverReadyAt: number | undefined;
  const infoFile = await waitFor('the control plane to report READY', 180_000, () => {
    const text = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(since) : '';
    if (text.includes('level=fatal') || /^(panic|Error):|^cplane: error:/m.test(text)) throw new Error(`the control plane failed; see ${logFile}`);
    // When the harness saw it (polled every 250 ms): the apiserver answers /readyz from here on.
    if (apiserverReadyAt === undefined && text.includes('cplane: kube-apiserver ready at')) apiserverReadyAt = Date.now();
    return /^READY (\S+)$/m.exec(text)?.[1];
  });
  return { info: JSON.parse(readFileSync(infoFile, 'utf8')) as ControlPlaneInfo, pid, apiserverReadyAt: apiserverReadyAt ?? Date.now() };
}

async function startControlPlane(dir: string, config: string | undefined): Promise<{ info: ControlPlaneInfo; pid: number }> {
  writeStaticSelfDefence(dir, config);
  return runControlPlane(dir, []);
}

/** Stops the control plane (etcd, apiserver, controller manager) and keeps its directory, so it can be resumed. */
export async function stopControlPlane(dir: string): Promise<void> {
  await stopProcess(readPids(dir).cplane, 20_000);
}

/**
 * Starts a stopped control plane again on its own directory (`cplane run --resume`: the same etcd data, PKI, tokens
 * and port), so every client sees the apiserver restart, not a new cluster. Returns when the apiserver answered
 * again (`apiserverReadyAt`, as seen by polling its log every 250 ms) and when the whole plane was READY.
 */
export async function resumeControlPlane(dir: string): Promise<{ apiserverReadyAt: number; readyAt: number }> {
  const logFile = join(dir, 'cplane.log');
  const since = existsSync(logFile) ? readFileSync(logFile, 'utf8').length : 0;
  const plane = await runControlPlane(dir, ['--resume'], since);
  writeFileSync(join(dir, 'pids.json'), JSON.stringify({ ...readPids(dir), cplane: plane.pid }));
  writeFileSync(join(dir, 'cplane.pid'), `${plane.pid}\n`);
  return { apiserverReadyAt: plane.apiserverReadyAt, readyAt: Date.now() };
}

export async function createIdentities(dir: string, info: ControlPlaneInfo): Promise<void> {
  for (const human of ['admin', 'sre-a', 'sre-b', 'dev-a']) {
    const token = info.tokens[human];
    if (token === undefined) throw new Error(`the control plane issued no token for ${human}`);
    writeKubeconfig(dir, human, info, token);
  }
  // The approval resources first: the identities' RBAC refers to them.
  kubectl(dir, 'admin', ['apply', '-f', join(ROOT, 'charts', 'countersign', 'crds')]);
  // Polled rather than `kubectl wait`: a CRD read before the apiserver gave it any condition makes wait fail at once.
  const crds = ['approvals', 'approvalrequests', 'agentactivities'].map((plural) => `crd/${plural}.countersign.dev`);
  await waitFor('the approval resources to be Established', 60_000, () => {
    const established = kubectl(dir, 'admin', ['get', ...crds, '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Established")].status}{" "}{end}']);
    return established.trim().split(' ').filter((status) => status === 'True').length === crds.length ? true : undefined;
  });
  // Established is not yet servable: the storage answers 429 "(re)initializing" for a moment.
  await waitFor('the approval resources to be served', 30_000, () => {
    try {
      kubectl(dir, 'admin', ['get', 'approvals,approvalrequests,agentactivities', '-n', 'default']);
      return true;
    } catch {
      return undefined;
    }
  });
  kubectl(dir, 'admin', ['apply', '-f', join(HERE, 'identities.yaml')]);
  // Agents hold real ServiceAccount tokens from the TokenRequest API, as they would in a cluster.
  for (const [identity, namespace] of [['coder', 'agents'], ['ops-bot', 'agents'], ['sweeper', 'agents'], ['countersign', 'countersign']] as const) {
    const token = kubectl(dir, 'admin', ['create', 'token', identity, '-n', namespace, '--duration', '24h']).trim();
    writeKubeconfig(dir, identity, info, token);
  }
}

async function startCountersign(dir: string, config: string | undefined): Promise<{ pid: number; port: number; caFile: string }> {
  const tls = makeServingCert(join(dir, 'webhook'));
  const port = await freePort();
  const args = [
    CLI, 'serve', '--address', '127.0.0.1', '--port', String(port),
    '--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--kubeconfig', kubeconfigPath(dir, 'countersign'),
    '--capture-dir', join(dir, 'captured'),
    ...(config === undefined ? [] : ['--config', config]),
  ];
  writeFileSync(join(dir, 'countersign.args.json'), JSON.stringify(args));
  const pid = startDetached(process.execPath, args, join(dir, 'countersign.log'));
  writeFileSync(join(dir, 'countersign.pid'), `${pid}\n`);
  return { pid, port, caFile: tls.caFile };
}

/** Starts Countersign again exactly as `up` did (same port, certificate and configuration) and waits for it. */
export async function restartCountersign(dir: string): Promise<void> {
  const args = JSON.parse(readFileSync(join(dir, 'countersign.args.json'), 'utf8')) as string[];
  const since = readFileSync(join(dir, 'countersign.log'), 'utf8').length;
  const pid = startDetached(process.execPath, args, join(dir, 'countersign.log'));
  writeFileSync(join(dir, 'countersign.pid'), `${pid}\n`);
  const pids = readPids(dir);
  writeFileSync(join(dir, 'pids.json'), JSON.stringify({ ...pids, countersign: pid }));
  await waitForProbe(dir, since);
}

export interface Replica {
  pid: number;
  port: number;
}

/**
 * Another Countersign process like the first (same certificate, configuration and cluster), on its own port;
 * optionally under another identity's kubeconfig (to see what it does with fewer rights), or serving a configuration
 * file of its own (watched for changes, as `serve --config` does).
 */
export async function startReplica(dir: string, as?: { identity?: string; config?: string }): Promise<Replica> {
  const args = JSON.parse(readFileSync(join(dir, 'countersign.args.json'), 'utf8')) as string[];
  const port = await freePort();
  const portAt = args.indexOf('--port') + 1;
  const kubeconfigAt = args.indexOf('--kubeconfig') + 1;
  const replaced = (arg: string, i: number): string => {
    if (i === portAt) return String(port);
    return i === kubeconfigAt && as?.identity !== undefined ? kubeconfigPath(dir, as.identity) : arg;
  };
  const dropped = as?.config === undefined ? ['--capture-dir'] : ['--capture-dir', '--config'];
  const replicaArgs = args.map(replaced).filter((_, i) => !dropped.includes(args[i - 1] ?? '') && !dropped.includes(args[i] ?? ''));
  if (as?.config !== undefined) replicaArgs.push('--config', as.config);
  const pid = startDetached(process.execPath, replicaArgs, join(dir, `countersign-${port}.log`));
  // A replica under its own identity may never complete its picture (that is what it is for): it only has to listen.
  const awaited = as?.identity === undefined ? PICTURE_SYNCED : 'countersign serving';
  await waitFor(`replica on port ${port} to be ready`, 60_000, () => (readFileSync(join(dir, `countersign-${port}.log`), 'utf8').includes(awaited) ? true : undefined));
  return { pid, port };
}

/** The port the first Countersign serves on. */
export function countersignPort(dir: string): number {
  const args = JSON.parse(readFileSync(join(dir, 'countersign.args.json'), 'utf8')) as string[];
  return Number(args[args.indexOf('--port') + 1]);
}

/** `kubectl countersign` through kubectl's own plugin discovery: an executable named kubectl-countersign on PATH. */
function installPlugin(dir: string): void {
  const shim = join(dir, 'bin', 'kubectl-countersign');
  mkdirSync(dirname(shim), { recursive: true });
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, 'dist', 'plugin', 'main.js')}" "$@"\n`, { mode: 0o755 });
}

export function pluginPath(dir: string): string {
  return `${join(dir, 'bin')}:${process.env.PATH ?? ''}`;
}

function registerWebhook(dir: string, port: number, caFile: string, config: string | undefined): void {
  const yaml = execFileSync(process.execPath, [
    CLI, 'webhook-config', '--url', `https://127.0.0.1:${port}/validate`, '--ca-bundle', caFile,
    ...(config === undefined ? [] : ['--config', config]),
  ], { encoding: 'utf8' });
  writeFileSync(join(dir, 'webhook-configuration.yaml'), yaml);
  kubectl(dir, 'admin', ['apply', '-f', '-'], yaml);
  // What the webhook cannot see (its own configuration, admission policies) is guarded inside the apiserver.
  const policies = execFileSync(process.execPath, [CLI, 'self-defence-policy', ...(config === undefined ? [] : ['--config', config])], { encoding: 'utf8' });
  writeFileSync(join(dir, 'self-defence-policy.yaml'), policies);
  kubectl(dir, 'admin', ['apply', '-f', '-'], policies);
}

/** Registration is asynchronous in the apiserver: probe as an agent until the webhook has logged the probe. */
async function waitForProbe(dir: string, since = 0): Promise<void> {
  const logFile = join(dir, 'countersign.log');
  let attempt = 0;
  await waitFor('the webhook to see a probe request', 60_000, () => {
    attempt += 1;
    try {
      kubectl(dir, 'coder', ['create', 'configmap', `countersign-probe-${attempt}`, '-n', 'agents', '--dry-run=server', '--from-literal=probe=1']);
    } catch {
      // The webhook may not be listening yet; failurePolicy Fail refuses the agent until it is.
    }
    return readFileSync(logFile, 'utf8').slice(since).includes('"name":"countersign-probe-') ? true : undefined;
  });
  // Agents' deletes are refused until the cluster picture has synced; tests start once it has.
  await waitFor('the cluster picture to sync', 60_000, () => (readFileSync(logFile, 'utf8').slice(since).includes(PICTURE_SYNCED) ? true : undefined));
}

/** The helm `npm run helm:build` writes (never one on PATH), or an error naming that command: a test needing it fails. */
export function requireHelm(): string {
  if (!existsSync(HELM)) throw new Error(`helm is not built (${HELM} is missing): run \`npm run helm:build\``);
  return HELM;
}

export async function up(dir: string, config: string | undefined): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm run test:e2e builds first)`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'kubeconfigs'), { recursive: true });
  mkdirSync(join(dir, 'webhook'), { recursive: true });
  mkdirSync(join(dir, 'captured'), { recursive: true });
  const started = Date.now();
  const plane = await startControlPlane(dir, config);
  log(`control plane ${plane.info.version} at ${plane.info.server} (${Date.now() - started} ms)`);
  const pids: Pids = { cplane: plane.pid, countersign: 0 };
  writeFileSync(join(dir, 'pids.json'), JSON.stringify(pids));
  await createIdentities(dir, plane.info);
  installPlugin(dir);
  const webhook = await startCountersign(dir, config);
  pids.countersign = webhook.pid;
  writeFileSync(join(dir, 'pids.json'), JSON.stringify(pids));
  writeFileSync(join(dir, 'cplane.pid'), `${plane.pid}\n`);
  registerWebhook(dir, webhook.port, webhook.caFile, config);
  await waitForProbe(dir);
  writeFileSync(join(dir, 'READY'), `${new Date().toISOString()}\n`);
  log(`ready in ${Date.now() - started} ms: kubeconfigs in ${join(dir, 'kubeconfigs')}, webhook on 127.0.0.1:${webhook.port}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  if (pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export function readPids(dir: string): Pids {
  return JSON.parse(readFileSync(join(dir, 'pids.json'), 'utf8')) as Pids;
}

export async function down(dir: string): Promise<void> {
  if (!existsSync(join(dir, 'pids.json'))) {
    log(`nothing to stop in ${dir}`);
    return;
  }
  const pids = readPids(dir);
  await stopProcess(pids.countersign);
  await stopProcess(pids.cplane, 20_000);
  rmSync(join(dir, 'READY'), { force: true });
  log(`stopped everything started in ${dir}`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' }, config: { type: 'string' } } });
  if (values.dir === undefined) throw new Error('--dir DIR is required');
  const dir = resolve(values.dir);
  mkdirSync(dirname(dir), { recursive: true });
  if (command === 'up') {
    try {
      await up(dir, values.config === undefined ? undefined : resolve(values.config));
    } catch (error: unknown) {
      await down(dir);
      throw error;
    }
  } else if (command === 'down') {
    await down(dir);
  } else {
    throw new Error('usage: control-plane (up|down) --dir DIR [--config FILE]');
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`control-plane: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
