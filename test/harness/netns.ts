// The test cluster with a node lives in a network namespace of its own, created here and removed afterwards, with
// every process that talks to it (etcd, the apiserver, the kubelet, containerd, the pods, kubectl, the tests) inside.
// It has loopback and nothing else (the pods' bridge is added inside it), and its default route is a blackhole:
// nothing a test does can reach an address outside the machine, or the host's own network.
//
//   node test/harness/netns.ts run [--name NAME] -- COMMAND ARGS...   create NAME, run COMMAND inside, remove NAME
//   node test/harness/netns.ts create --name NAME                     create NAME and leave it (for a session by hand)
//   node test/harness/netns.ts exec --name NAME -- COMMAND ARGS...    run COMMAND inside an existing NAME
//   node test/harness/netns.ts delete --name NAME                     kill what runs inside NAME and remove it
//
// Processes join it with `nsenter --net` (not `ip netns exec`, which also unshares the mount namespace: the kubelet's
// volume mounts must be visible to containerd and runc).
import { execFileSync, spawn } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The node's address: on the namespace's loopback, advertised by the apiserver, where pods reach it. */
export const NODE_IP = '10.201.0.1';
/** Set for processes started inside a namespace by this wrapper: the harness refuses to bring a node up elsewhere. */
export const NETNS_ENV = 'COUNTERSIGN_NETNS';

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function netnsPath(name: string): string {
  return `/var/run/netns/${name}`;
}

/**
 * Creates NAME with loopback up and carrying the node's address (local delivery answers it from any interface,
 * the pods' bridge included), and a blackhole default route. (These VMs' kernels have no dummy interfaces.)
 */
export function createNetns(name: string): void {
  if (process.getuid?.() !== 0) throw new Error('a network namespace (and a kubelet) needs root');
  ip(['netns', 'add', name]);
  try {
    ip(['-n', name, 'link', 'set', 'lo', 'up']);
    ip(['-n', name, 'addr', 'add', `${NODE_IP}/32`, 'dev', 'lo']);
    // Components look for a default route; this one leads nowhere.
    ip(['-n', name, 'route', 'add', 'blackhole', 'default']);
  } catch (error: unknown) {
    deleteNetns(name);
    throw error;
  }
}

function pidsIn(name: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).split('\n').filter((line) => line.trim() !== '').map(Number);
  } catch {
    return [];
  }
}

/** Kills whatever still runs inside NAME and removes it. */
export function deleteNetns(name: string): void {
  for (const pid of pidsIn(name)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  try {
    ip(['netns', 'delete', name]);
  } catch {
    // never created, or already removed
  }
}

/** True when this process runs inside the namespace the wrapper named in its environment (net:[inode] matches). */
export function insideOwnNetns(): boolean {
  const name = process.env[NETNS_ENV];
  return name !== undefined && readlinkSync('/proc/self/ns/net') === `net:[${String(statSync(netnsPath(name)).ino)}]`;
}

/** Runs COMMAND inside NAME; resolves with its exit code. */
export function runIn(name: string, command: string[]): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn('nsenter', [`--net=${netnsPath(name)}`, '--', ...command], {
      stdio: 'inherit',
      env: { ...process.env, [NETNS_ENV]: name },
    });
    child.once('error', fail);
    child.once('exit', (code, signal) => { done(code ?? (signal === null ? 1 : 128)); });
  });
}

/** Removes NAME after sweeping a node started inside it (its pods live in namespaces of their own, with mounts and cgroups). */
async function removeWithNode(name: string): Promise<void> {
  const { sweepNode } = await import('./node-cluster.ts');
  await sweepNode(name, true);
  deleteNetns(name);
}

const USAGE = 'usage: netns.ts run [--name NAME] -- COMMAND ARGS... | create --name NAME | exec --name NAME -- COMMAND ARGS... | delete --name NAME';

async function main(argv: string[]): Promise<number> {
  const split = argv.includes('--') ? argv.indexOf('--') : argv.length;
  const [verb, ...options] = argv.slice(0, split);
  const command = argv.slice(split + 1);
  const nameAt = options.indexOf('--name');
  const given = nameAt >= 0 ? options[nameAt + 1] : undefined;
  if ((verb === 'create' || verb === 'delete') && given !== undefined) {
    if (verb === 'create') createNetns(given);
    else await removeWithNode(given);
    return 0;
  }
  if (command.length === 0) throw new Error(USAGE);
  if (verb === 'exec') {
    if (given === undefined) throw new Error('exec needs --name NAME');
    return runIn(given, command);
  }
  if (verb !== 'run') throw new Error(USAGE);
  const name = given ?? `countersign-${process.pid}`;
  createNetns(name);
  const cleanUp = (): Promise<void> => removeWithNode(name);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => { void cleanUp().finally(() => process.exit(130)); });
  }
  try {
    return await runIn(name, command);
  } finally {
    await cleanUp();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    process.stderr.write(`netns: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
