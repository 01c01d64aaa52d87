// A real cluster with a node, as users run one: the control plane (etcd, kube-apiserver, kube-controller-manager,
// kube-scheduler), a kubelet with containerd and runc, a bridge CNI and kube-proxy, all from real components, and
// images built locally (test/node/images/build.sh). It must run inside a network namespace of its own
// (test/harness/netns.ts), which the harness checks before it starts anything.
//
//   node test/harness/netns.ts run --name NS -- node test/harness/node-cluster.ts up --dir DIR
//
// `up` leaves everything running (detached) and writes DIR/node.json; `down` stops the pods, the node and the plane
// and removes what they mounted.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CPLANE, ROOT, createIdentities, kubectl, runControlPlane, startDetached, stopProcess, waitFor } from './control-plane.ts';
import { NETNS_ENV, NODE_IP, insideOwnNetns } from './netns.ts';

export const NODE_BIN = join(ROOT, 'test', 'node', 'bin');
const IMAGES = join(ROOT, 'test', 'node', 'images', 'out');
export const NODE_NAME = 'node-1';
const POD_CIDR = '10.244.0.0/24';
/** What the pods of the cluster are called in containerd (CRI's namespace). */
const CRI_NAMESPACE = 'k8s.io';
const CGROUP_ROOT = '/sys/fs/cgroup';
/** The sandbox image kubeadm 1.37 pins and containerd 2.4 defaults to; built locally as test/node/images/out/pause.tar. */
const PAUSE_IMAGE = 'registry.k8s.io/pause:3.10.2';

export interface NodeInfo {
  dir: string;
  netns: string;
  cgroupParent: string;
  pids: { containerd: number; cplane: number; kubelet: number; kubeProxy: number };
  socket: string;
  shimSockets: string;
  /** The host's kernel settings before the kubelet changed them (it sets panic, overcommit and keys limits). */
  sysctls: Record<string, string>;
}

/** Where a node's state is also kept outside its directory, so the namespace wrapper can clean up after a crash. */
const STATE_DIR = '/run/countersign-node';
/** What the kubelet sets on the host (pkg/kubelet/cm setupKernelTunables); put back by sweepNode. */
const KUBELET_SYSCTLS = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];

function log(message: string): void {
  process.stderr.write(`[node-cluster] ${message}\n`);
}

function requireFile(path: string, build: string): string {
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`${build}\``);
  return path;
}

function ctr(socket: string, args: string[]): string {
  return execFileSync(join(NODE_BIN, 'ctr'), ['--address', socket, '--namespace', CRI_NAMESPACE, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** test/node/containerd-config.toml.tmpl filled in: everything under DIR, nothing of the host's containerd paths. */
function containerdConfig(dir: string, socket: string, shimSockets: string): string {
  const values: Record<string, string> = {
    ROOT: join(dir, 'containerd', 'root'),
    STATE: join(dir, 'containerd', 'state'),
    SOCKET: socket,
    SHIM_SOCKET_DIR: shimSockets,
    RUNC: join(NODE_BIN, 'runc'),
    CNI_BIN: join(NODE_BIN, 'cni'),
    CNI_CONF: join(dir, 'cni', 'net.d'),
    SANDBOX_IMAGE: PAUSE_IMAGE,
  };
  const template = readFileSync(join(ROOT, 'test', 'node', 'containerd-config.toml.tmpl'), 'utf8');
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`containerd-config.toml.tmpl: no value for {{${key}}}`);
    return value;
  });
}

/** One bridge in the cluster's namespace, a /24 of pod addresses, no masquerade (nothing leaves the namespace). */
function cniConfig(dir: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'countersign-pods',
    plugins: [
      {
        type: 'bridge', bridge: 'cni0', isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(dir, 'cni', 'ipam') },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

/**
 * The kubelet on this machine's cgroup v1 (allowed explicitly since 1.35), without swap checks, eviction or image
 * GC thresholds a shared test machine would trip, its pods under a cgroup of this run's own (so down can find and
 * stop every process of theirs), serving its API to the apiserver on the node's address.
 */
function kubeletConfig(socket: string, cgroupParent: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
failSwapOn: false
cgroupDriver: cgroupfs
cgroupRoot: ${cgroupParent}
containerRuntimeEndpoint: unix://${socket}
address: ${NODE_IP}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
enforceNodeAllocatable: []
serializeImagePulls: false
resolvConf: ""
`;
}

function kubeProxyConfig(kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: ${kubeconfig}}
hostnameOverride: ${NODE_NAME}
mode: iptables
clusterCIDR: ${POD_CIDR}
# The namespace's conntrack table is the kernel's: leave its size alone.
conntrack: {maxPerCore: 0, min: 0}
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: ""
`;
}

/** cgroup v1: one directory per hierarchy; the kubelet wants its root to exist in each (not in the empty v2 mount). */
function hierarchies(): string[] {
  return allHierarchies().filter((name) => name !== 'unified');
}

/** Every cgroup mount, the (hybrid) v2 one included: the kubelet creates its tree there too. */
function allHierarchies(): string[] {
  return readdirSync(CGROUP_ROOT).filter((name) => existsSync(join(CGROUP_ROOT, name, 'cgroup.procs')));
}

function stateFile(netns: string): string {
  return join(STATE_DIR, `${netns}.json`);
}

async function startContainerd(dir: string, shimSockets: string, started: (pid: number) => void): Promise<{ pid: number; socket: string }> {
  const containerd = requireFile(join(NODE_BIN, 'containerd'), 'npm run node:build');
  const socket = join(dir, 'containerd', 'containerd.sock');
  mkdirSync(join(dir, 'cni', 'net.d'), { recursive: true });
  mkdirSync(join(dir, 'containerd'), { recursive: true });
  writeFileSync(join(dir, 'cni', 'net.d', '10-countersign.conflist'), cniConfig(dir));
  const config = join(dir, 'containerd', 'config.toml');
  // Unix socket paths are short (containerd allows the shims' directory 42 characters): hence one under /tmp.
  writeFileSync(config, containerdConfig(dir, socket, shimSockets));
  // The shim is looked up on PATH.
  const pid = startDetached('env', [`PATH=${NODE_BIN}:${process.env.PATH ?? ''}`, containerd, '--config', config], join(dir, 'containerd.log'));
  started(pid);
  await waitFor('containerd to serve', 60_000, () => {
    try {
      ctr(socket, ['version']);
      return true;
    } catch {
      return undefined;
    }
  });
  return { pid, socket };
}

/** The image the chart runs by default: its repository at the chart's appVersion. */
export function chartDefaultImage(): string {
  const appVersion = /^appVersion:\s*"?([^"\s]+)"?/m.exec(readFileSync(join(ROOT, 'charts', 'countersign', 'Chart.yaml'), 'utf8'))?.[1];
  const repository = /^image:\n(?:\s+#.*\n)*\s+repository:\s*(\S+)/m.exec(readFileSync(join(ROOT, 'charts', 'countersign', 'values.yaml'), 'utf8'))?.[1];
  if (appVersion === undefined || repository === undefined) throw new Error('cannot read the chart\'s default image (values.yaml image.repository, Chart.yaml appVersion)');
  return `${repository}:${appVersion}`;
}

/**
 * The pause image and Countersign's (the base image is only a build input). Countersign's also gets the name the
 * chart's default values pull (nothing is pulled: IfNotPresent finds it), so `helm install` needs no image values.
 */
function importImages(socket: string): string[] {
  for (const archive of ['pause.tar', 'countersign-dev.tar']) ctr(socket, ['images', 'import', requireFile(join(IMAGES, archive), 'npm run node:build')]);
  ctr(socket, ['images', 'tag', '--force', 'docker.io/library/countersign:dev', chartDefaultImage()]);
  return ctr(socket, ['images', 'ls', '-q']).split('\n').filter((line) => line !== '');
}

function nodeReady(dir: string): true | undefined {
  try {
    const status = kubectl(dir, 'admin', ['get', 'node', NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']);
    return status === 'True' ? true : undefined;
  } catch {
    return undefined;
  }
}

export async function nodeUp(dir: string): Promise<NodeInfo> {
  if (!insideOwnNetns()) throw new Error(`refusing to start a node outside a network namespace of its own: run it through test/harness/netns.ts (${NETNS_ENV} unset or the host's namespace)`);
  // A previous run's mounts under DIR must go before DIR does.
  unmountUnder(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'kubeconfigs'), { recursive: true });
  const started = Date.now();
  const netns = process.env[NETNS_ENV] ?? '';
  const cgroupParent = `/countersign-${netns}`;
  const shimSockets = join('/tmp', `cs-shim-${netns}`).slice(0, 42);
  const sysctls = Object.fromEntries(KUBELET_SYSCTLS.map((key) => [key, readFileSync(join('/proc/sys', key), 'utf8').trim()]));
  const info: NodeInfo = { dir, netns, cgroupParent, socket: '', shimSockets, sysctls, pids: { containerd: 0, cplane: 0, kubelet: 0, kubeProxy: 0 } };
  // Saved before anything starts, and after each start: whatever fails from here on, sweepNode finds it all.
  const save = (): void => {
    const text = `${JSON.stringify(info, null, 2)}\n`;
    writeFileSync(join(dir, 'node.json'), text);
    mkdirSync(STATE_DIR, { recursive: true });
    writeFileSync(stateFile(netns), text);
  };
  save();
  for (const hierarchy of hierarchies()) mkdirSync(join(CGROUP_ROOT, hierarchy, cgroupParent), { recursive: true });
  const runtime = await startContainerd(dir, shimSockets, (pid) => { info.pids.containerd = pid; save(); });
  info.socket = runtime.socket;
  save();
  const images = importImages(runtime.socket);
  log(`containerd ${runtime.pid} with ${images.length} images (${Date.now() - started} ms)`);

  // No static admission configuration here: the chart's own self-defence is what is under test.
  const plane = await runControlPlane(dir, ['--node-ip', NODE_IP, '--node-name', NODE_NAME]);
  info.pids.cplane = plane.pid;
  save();
  log(`control plane ${plane.info.version} at ${plane.info.server} (${Date.now() - started} ms)`);
  const kubeconfigs = (JSON.parse(readFileSync(join(dir, 'cluster', 'control-plane.json'), 'utf8')) as { kubeconfigs: Record<string, string> }).kubeconfigs;

  writeFileSync(join(dir, 'kubelet.yaml'), kubeletConfig(runtime.socket, cgroupParent));
  info.pids.kubelet = startDetached(CPLANE, [
    'kubelet', '--config', join(dir, 'kubelet.yaml'), '--kubeconfig', kubeconfigs.kubelet ?? '', '--root-dir', join(dir, 'kubelet'),
    '--hostname-override', NODE_NAME, '--node-ip', NODE_IP, '--v=1',
  ], join(dir, 'kubelet.log'));
  save();
  writeFileSync(join(dir, 'kube-proxy.yaml'), kubeProxyConfig(kubeconfigs.kubeProxy ?? ''));
  info.pids.kubeProxy = startDetached(CPLANE, ['kube-proxy', '--config', join(dir, 'kube-proxy.yaml'), '--v=1'], join(dir, 'kube-proxy.log'));
  save();

  await createIdentities(dir, plane.info);
  await waitFor(`node ${NODE_NAME} to be Ready`, 120_000, () => nodeReady(dir));
  writeFileSync(join(dir, 'READY'), `${new Date().toISOString()}\n`);
  log(`node ${NODE_NAME} Ready in ${Date.now() - started} ms`);
  return info;
}

/** Every process in a cgroup tree (v1: the pids hierarchy sees them all). */
function processesUnder(tree: string): number[] {
  if (!existsSync(tree)) return [];
  const found: number[] = [];
  const visit = (path: string): void => {
    for (const line of readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n')) if (line !== '') found.push(Number(line));
    for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) visit(join(path, entry.name));
  };
  visit(tree);
  return found;
}

function removeCgroupTree(path: string): void {
  if (!existsSync(path)) return;
  for (const entry of readdirSync(path, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(path, entry.name));
  // A cgroup directory goes with rmdir, not by removing its (virtual) files.
  rmdirSync(path);
}

/** The containerd shims started for the containerd listening on `socket`. */
function shimsOf(socket: string): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
    try {
      const argv = readFileSync(join('/proc', pid, 'cmdline'), 'utf8').split('\0');
      return argv.some((arg) => arg.endsWith('containerd-shim-runc-v2')) && argv.includes(socket);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Unmounts everything mounted under DIR (the kubelet's volumes, containerd's snapshots and sandboxes' netns). */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1] ?? '').filter((path) => path.startsWith(`${dir}/`));
  for (const path of mounts.sort((a, b) => b.length - a.length)) {
    try {
      execFileSync('umount', ['-l', path], { stdio: 'ignore' });
    } catch {
      // already gone with a parent
    }
  }
}

/** Stops a process we started, if `pid` still is that process (a pid can be reused after it exits). */
async function stopOurs(pid: number, marker: string, graceMs = 10_000): Promise<void> {
  let cmdline = '';
  try {
    cmdline = readFileSync(join('/proc', String(pid), 'cmdline'), 'utf8');
  } catch {
    return;
  }
  if (cmdline.includes(marker)) await stopProcess(pid, graceMs);
}

function kill(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

function netnsPids(netns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).split('\n').filter((line) => line !== '').map(Number);
  } catch {
    return [];
  }
}

/**
 * Removes every trace of the node started in network namespace `netns`, whatever state it was left in (a test
 * that failed half-way, an interrupted run): the pods' processes (found by their cgroups: they live in network
 * namespaces of their own), the shims, everything still running in `netns`, the mounts under its directory, the
 * unpacked images and volumes, the cgroup trees, the shims' sockets, and the kernel settings the kubelet changed.
 * `everythingInNetns` is for the namespace's owner once its command has ended (inside, it would kill the caller).
 */
export async function sweepNode(netns: string, everythingInNetns: boolean): Promise<void> {
  const file = stateFile(netns);
  if (!existsSync(file)) return;
  const info = JSON.parse(readFileSync(file, 'utf8')) as NodeInfo;
  const pods = join(CGROUP_ROOT, 'pids', info.cgroupParent);
  const leftovers = (): number[] => [...processesUnder(pods), ...(info.socket === '' ? [] : shimsOf(info.socket)), ...(everythingInNetns ? netnsPids(netns) : [])];
  kill(leftovers());
  try {
    await waitFor('the node\'s processes to exit', 20_000, () => (leftovers().length === 0 ? true : undefined));
  } catch (error: unknown) {
    log(`${error instanceof Error ? error.message : String(error)}: still running ${leftovers().join(' ')}; cleaning up the rest anyway`);
  }
  unmountUnder(info.dir);
  // The logs stay for reading; the unpacked images and the pods' volumes go (hundreds of MB).
  rmSync(join(info.dir, 'containerd', 'root'), { recursive: true, force: true });
  rmSync(join(info.dir, 'kubelet'), { recursive: true, force: true });
  for (const hierarchy of allHierarchies()) removeCgroupTree(join(CGROUP_ROOT, hierarchy, info.cgroupParent));
  rmSync(info.shimSockets, { recursive: true, force: true });
  for (const [key, value] of Object.entries(info.sysctls)) {
    try {
      writeFileSync(join('/proc/sys', key), value);
    } catch (error: unknown) {
      log(`could not restore ${key}=${value}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  rmSync(join(info.dir, 'READY'), { force: true });
  rmSync(file, { force: true });
}

/** Stops the node's daemons in order (kubelet and kube-proxy first, so nothing restarts pods), then sweeps. */
export async function nodeDown(dir: string): Promise<void> {
  const file = join(dir, 'node.json');
  if (!existsSync(file)) return;
  const info = JSON.parse(readFileSync(file, 'utf8')) as NodeInfo;
  await stopOurs(info.pids.kubeProxy, 'kube-proxy');
  await stopOurs(info.pids.kubelet, 'kubelet');
  await stopOurs(info.pids.containerd, 'containerd');
  await stopOurs(info.pids.cplane, 'cplane', 20_000);
  await sweepNode(info.netns, false);
  log(`stopped the node and the plane in ${dir}`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' } } });
  if (values.dir === undefined) throw new Error('--dir DIR is required');
  const dir = resolve(values.dir);
  mkdirSync(dirname(dir), { recursive: true });
  if (command === 'up') {
    try {
      await nodeUp(dir);
    } catch (error: unknown) {
      await nodeDown(dir);
      throw error;
    }
  } else if (command === 'down') {
    await nodeDown(dir);
  } else {
    throw new Error('usage: node-cluster (up|down) --dir DIR');
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(fileURLToPath(import.meta.url))) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`node-cluster: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
}
