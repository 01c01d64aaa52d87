// What the end-to-end tests drive: real kubectl, as one of the harness's identities.
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { dirname, join } from 'node:path';
import { KUBECTL, kubeconfigPath, pluginPath } from '../harness/control-plane.ts';
import { loggedDecisions, type LoggedDecision } from '../harness/decision-log.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** Where the run's control plane lives; COUNTERSIGN_E2E_DIR lets two runs share a working tree. */
export const E2E_DIR = process.env.COUNTERSIGN_E2E_DIR ?? join(HERE, '..', '..', '.run', 'e2e');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectlAs(identity: string, args: string[], input?: string): Run {
  // kubectl refuses flags before a plugin's name; the plugin reads --kubeconfig itself.
  const kubeconfig = ['--kubeconfig', kubeconfigPath(E2E_DIR, identity)];
  const argv = args[0] === 'countersign' ? [...args, ...kubeconfig] : [...kubeconfig, ...args];
  const result = spawnSync(KUBECTL, argv, {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, PATH: pluginPath(E2E_DIR) },
    ...(input === undefined ? {} : { input }),
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function mustKubectl(identity: string, args: string[], input?: string): string {
  const run = kubectlAs(identity, args, input);
  if (run.code !== 0) throw new Error(`kubectl ${args.join(' ')} as ${identity} failed (${run.code}): ${run.stderr}`);
  return run.stdout;
}

/** Every decision line the webhook has logged so far. */
export function webhookDecisions(): LoggedDecision[] {
  return loggedDecisions(E2E_DIR);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

export async function eventually<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(500);
  }
}

export interface Answer {
  response: { allowed: boolean; status?: { message?: string } };
}

/** Sends an AdmissionReview straight to one Countersign process, as the apiserver would. */
export function postReview(port: number, body: string): Promise<Answer> {
  const ca = readFileSync(join(E2E_DIR, 'webhook', 'ca.crt'), 'utf8');
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/validate', method: 'POST', ca, headers: { 'content-type': 'application/json' }, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
      res.on('end', () => { resolve(JSON.parse(text) as Answer); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The AdmissionReview the real apiserver sent for a logged decision, as Countersign captured it. */
export function capturedReview(uid: string): string {
  const file = readdirSync(join(E2E_DIR, 'captured')).find((f) => f.endsWith(`-${uid}.json`));
  if (file === undefined) throw new Error(`no captured review for uid ${uid}`);
  return readFileSync(join(E2E_DIR, 'captured', file), 'utf8');
}

/** The human identity recovery.test.ts posts reviews as, straight to Countersign (never through the apiserver). */
export const DIRECT_POST_HUMAN = 'e2e-direct-post:admin';

/**
 * A fresh agent of its own for a suite: a ServiceAccount in `agents` with the harness agents' inherited rights
 * (ClusterRole inherited-engineer), so one suite's pending approval requests never fill another's quota of them.
 */
export function freshAgent(name: string): void {
  mustKubectl('admin', ['create', 'serviceaccount', name, '-n', 'agents']);
  mustKubectl('admin', ['create', 'clusterrolebinding', `e2e-${name}`, '--clusterrole=inherited-engineer', `--serviceaccount=agents:${name}`]);
  const token = mustKubectl('admin', ['create', 'token', name, '-n', 'agents', '--duration', '2h']).trim();
  const coder = readFileSync(kubeconfigPath(E2E_DIR, 'coder'), 'utf8');
  writeFileSync(kubeconfigPath(E2E_DIR, name), coder.replace(/token: "[^"]*"/, `token: "${token}"`).replaceAll('coder', name), { mode: 0o600 });
}

export function removeFreshAgent(name: string): void {
  kubectlAs('admin', ['delete', 'clusterrolebinding', `e2e-${name}`, '--ignore-not-found']);
  kubectlAs('admin', ['delete', 'serviceaccount', name, '-n', 'agents', '--ignore-not-found']);
}
