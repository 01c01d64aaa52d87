// Cluster-picture sync against the real control plane: time from start to ready and memory, for a cluster holding
// N extra ConfigMaps, as a ratio to a baseline in the same run - one paginated metadata LIST of every ConfigMap
// over the same transport (the least any complete picture must fetch). Brings up its own control plane in
// .run/bench-picture and tears it down. Usage: npm run bench:picture-sync [-- 10000]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../dist/observability/logger.js';
import { httpsTransport } from '../dist/kube/https-transport.js';
import { kubePicture } from '../dist/picture/kube-picture.js';

const ROOT = join(fileURLToPath(import.meta.url), '..', '..');
const DIR = join(ROOT, '.run', 'bench-picture');
const COUNT = Number(process.argv[2] ?? 10_000);
const NAMESPACES = 10;
const node = process.execPath;
const harness = (...args) => execFileSync(node, [join(ROOT, 'test', 'harness', 'control-plane.ts'), ...args, '--dir', DIR], { stdio: ['ignore', 'ignore', 'inherit'] });
const kubeconfig = join(DIR, 'kubeconfigs', 'admin.kubeconfig');
const kubectl = (args, input) => execFileSync(join(ROOT, 'test', 'control-plane', 'bin', 'kubectl'), ['--kubeconfig', kubeconfig, ...args], { input, maxBuffer: 1 << 28, encoding: 'utf8' });

function median(values) {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

async function baselineList(kc) {
  const transport = httpsTransport(kc);
  const signal = AbortSignal.timeout(120_000);
  const started = performance.now();
  let items = 0;
  let continueToken = '';
  do {
    const page = await transport.list({ path: '/api/v1/configmaps', accept: 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json', limit: 500, continueToken, signal });
    items += page.items.length;
    continueToken = page.continueToken;
  } while (continueToken !== '');
  return { ms: performance.now() - started, items };
}

async function pictureSync(kc) {
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const started = performance.now();
  const picture = kubePicture(kc, createLogger('silent'));
  while (!picture.status().ready) await sleep(5);
  const ms = performance.now() - started;
  globalThis.gc?.();
  const status = picture.status();
  const heap = process.memoryUsage().heapUsed - heapBefore;
  await picture.close();
  return { ms, objects: status.objects, resources: status.resources, bytesPerObject: heap / status.objects };
}

try {
  console.log(`bringing up the control plane in ${DIR}...`);
  harness('up');
  for (let n = 0; n < NAMESPACES; n++) {
    const namespace = `bench-${n}`;
    kubectl(['create', 'namespace', namespace]);
    const items = Array.from({ length: COUNT / NAMESPACES }, (_, i) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}`, namespace, labels: { app: `app-${i % 50}` } }, data: { key: 'x'.repeat(200) } }));
    kubectl(['create', '-f', '-', '-o', 'name'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const rounds = [];
  for (let round = 0; round < 3; round++) rounds.push({ base: await baselineList(kc), sync: await pictureSync(kc) });
  const base = median(rounds.map((r) => r.base.ms));
  const sync = median(rounds.map((r) => r.sync.ms));
  const last = rounds.at(-1).sync;
  console.log(`node ${process.version}; ${COUNT} extra ConfigMaps in ${NAMESPACES} namespaces; medians of 3 rounds`);
  console.log(`baseline: one metadata LIST of all ${rounds[0].base.items} ConfigMaps: ${base.toFixed(0)} ms`);
  console.log(`picture sync (discovery + list of ${last.resources} resources, ${last.objects} objects, to ready): ${sync.toFixed(0)} ms = ${(sync / base).toFixed(2)}x the baseline`);
  console.log(`memory: ${last.bytesPerObject.toFixed(0)} bytes per cached object (heap growth over the synced picture)`);
} finally {
  harness('down');
}
