// What the end-to-end tests drive: real kubectl, as one of the harness's identities.
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { KUBECTL, kubeconfigPath, pluginPath } from '../harness/control-plane.ts';
import { loggedDecisions, type LoggedDecision } from '../harness/decision-log.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

export const E2E_DIR = join(HERE, '..', '..', '.run', 'e2e');

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
