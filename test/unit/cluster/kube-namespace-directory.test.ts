// The namespace directory against a scripted API server on 127.0.0.1 (list, streaming watch, live reads) that can
// drop its watches, answer 500 or end a watch with 410 Gone: after each, lookups are answered again from a fresh
// list (a namespace added while the watch was down is in the cache), and while the watch is down a lookup reads
// live or fails, never serves the old cache.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeNamespaceDirectory } from '../../../src/cluster/kube-namespace-directory.js';
import type { NamespaceDirectory } from '../../../src/cluster/namespace-directory.js';
import { createLogger } from '../../../src/observability/logger.js';
import { localKubeConfig } from '../../helpers/local-kubeconfig.js';

const log = createLogger('silent');
// The functional bound on a recovery: generous for a shared 2-core machine; the measured time is printed.
const RECOVERY_TIMEOUT_MS = 15_000;

interface Namespace {
  metadata: { name: string; resourceVersion: string; uid: string; labels: Record<string, string> };
}

/** drop: cut every request; 500: answer everything with 500 (collection-500: lists and watches, watch-500: watches); hang: never answer. */
type Mode = 'ok' | 'drop' | '500' | 'collection-500' | 'watch-500' | 'hang';

/** A namespaces-only apiserver: what client-node's informer and CoreV1Api ask of a real one. */
class FakeApiserver {
  private readonly server: Server;
  private readonly namespaces = new Map<string, Namespace>();
  private readonly watches = new Set<ServerResponse>();
  private readonly sockets = new Set<Socket>();
  private revision = 10;
  mode: Mode = 'ok';
  lists = 0;
  watchesOpened = 0;
  liveReads = 0;

  constructor() {
    this.server = createServer((request, response) => { this.handle(request, response); });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<KubeConfig> {
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    const { port } = this.server.address() as AddressInfo;
    return localKubeConfig(port);
  }

  openWatches(): number {
    return this.watches.size;
  }

  /** Creates or relabels a namespace; open watches hear of it, as from a real apiserver. */
  put(name: string, environment: string): void {
    this.revision += 1;
    const type = this.namespaces.has(name) ? 'MODIFIED' : 'ADDED';
    const object: Namespace = { metadata: { name, uid: `uid-${name}`, resourceVersion: String(this.revision), labels: { 'countersign.dev/environment': environment } } };
    this.namespaces.set(name, object);
    for (const watch of this.watches) watch.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** Cuts every open connection (watches included), as a restarting apiserver or a broken network does. */
  dropConnections(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Ends every open watch with the 410 Gone a real apiserver sends when the resourceVersion is too old. */
  expireWatches(): void {
    for (const watch of this.watches) {
      this.watches.delete(watch);
      watch.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version' } })}\n`);
    }
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise((done) => { this.server.close(done); });
  }

  private fails(isCollection: boolean, isWatch: boolean): boolean {
    if (this.mode === 'collection-500') return isCollection;
    if (this.mode === 'watch-500') return isCollection && isWatch;
    return this.mode === '500';
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    if (this.mode === 'hang') return;
    if (this.mode === 'drop') {
      request.socket.destroy();
      return;
    }
    const isCollection = url.pathname === '/api/v1/namespaces';
    const isWatch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    if (this.fails(isCollection, isWatch)) {
      response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 500, message: 'etcd is unhappy' }));
      return;
    }
    const one = /^\/api\/v1\/namespaces\/([^/]+)$/.exec(url.pathname);
    if (one !== null) {
      this.liveReads += 1;
      const found = this.namespaces.get(decodeURIComponent(one[1] ?? ''));
      if (found === undefined) response.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
      else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Namespace', apiVersion: 'v1', ...found }));
      return;
    }
    if (!isCollection) {
      response.writeHead(404).end();
      return;
    }
    if (isWatch) {
      this.watchesOpened += 1;
      response.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      response.flushHeaders();
      this.watches.add(response);
      response.on('close', () => this.watches.delete(response));
      return;
    }
    this.lists += 1;
    const items = [...this.namespaces.values()].map((object) => ({ kind: 'Namespace', apiVersion: 'v1', ...object }));
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: String(this.revision) }, items }));
  }
}

/** The measured recovery times go to the test output (they are figures, not assertions). */
function report(line: string): void {
  process.stderr.write(`[kube-namespace-directory] ${line}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs = RECOVERY_TIMEOUT_MS): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(10);
  }
}

function environmentOf(namespace: unknown): string | undefined {
  return (namespace as Namespace | undefined)?.metadata.labels['countersign.dev/environment'];
}

/** True when `name` is answered from the cache (no live read) with the given environment. */
async function cachedAs(api: FakeApiserver, directory: NamespaceDirectory, name: string, environment: string): Promise<boolean> {
  const before = api.liveReads;
  const found = await directory.get(name).catch(() => undefined);
  return environmentOf(found) === environment && api.liveReads === before;
}

describe('kube namespace directory: fail closed, not locked out', () => {
  let api: FakeApiserver | undefined;
  let directory: NamespaceDirectory | undefined;

  afterEach(async () => {
    await directory?.close();
    await api?.close();
    directory = undefined;
    api = undefined;
  });

  async function started(listTimeoutMs?: number): Promise<{ api: FakeApiserver; directory: NamespaceDirectory }> {
    const server = new FakeApiserver();
    api = server;
    server.put('shop', 'production');
    server.put('sandbox', 'development');
    const kc = await server.listen();
    const made = kubeNamespaceDirectory(kc, log, listTimeoutMs === undefined ? undefined : { firstMs: 200, maxMs: 4000, listTimeoutMs });
    directory = made;
    expect(made.isReady()).toBe(false);
    await until('the first list', () => made.isReady());
    await until('the first watch', () => server.openWatches() === 1);
    return { api: server, directory: made };
  }

  it('is ready after the list and answers from the cache; watch events keep it current', async () => {
    const { api: server, directory: made } = await started();
    expect(server.lists).toBe(1);
    await expect(cachedAs(server, made, 'shop', 'production')).resolves.toBe(true);
    server.put('sandbox', 'production');
    await until('the relabel to arrive over the watch', () => cachedAs(server, made, 'sandbox', 'production'));
    expect(server.liveReads).toBe(0);
    // A miss is a live read: a namespace the cache does not hold is judged by what the apiserver says.
    await expect(made.get('nowhere')).resolves.toBeUndefined();
    expect(server.liveReads).toBe(1);
  });

  it('recovers from a dropped watch: a namespace added while it was down is in the cache afterwards', async () => {
    const { api: server, directory: made } = await started();
    const listsBefore = server.lists;
    server.mode = 'drop';
    server.dropConnections();
    server.put('late', 'production'); // no watch hears this
    // While the watch is down nothing can be read: the lookup fails (fail closed), it does not use the old cache.
    await until('a lookup to fail while the apiserver is unreachable', async () => (await made.get('shop').then(() => false, () => true)));
    expect(made.isReady()).toBe(true); // not locked out: lookups are attempted, not refused wholesale
    await sleep(1000);
    server.mode = 'ok';
    const recoveredMs = await until('the fresh list after the drop', () => cachedAs(server, made, 'late', 'production'));
    report(`dropped watch: answered from a fresh list ${recoveredMs} ms after the apiserver answered again (lists ${listsBefore} -> ${server.lists})`);
    expect(server.lists).toBeGreaterThan(listsBefore);
    await until('one watch, the old informers gone', () => server.openWatches() === 1);
  });

  it('recovers from a watch ended with 410 Gone by listing again', async () => {
    const { api: server, directory: made } = await started();
    const listsBefore = server.lists;
    const watchesBefore = server.watchesOpened;
    const expiredAt = Date.now();
    server.expireWatches();
    server.put('late', 'production'); // after the only watch ended: only a list can tell
    const recoveredMs = await until('the relist after 410', () => cachedAs(server, made, 'late', 'production'));
    report(`410 Gone: answered from a fresh list ${recoveredMs} ms later (${Date.now() - expiredAt} ms after the watch ended)`);
    expect(server.lists).toBe(listsBefore + 1);
    expect(server.watchesOpened).toBeGreaterThan(watchesBefore);
    await until('one watch open again', () => server.openWatches() === 1);
  });

  it('recovers after 500s on list and watch: retried with backoff, then a fresh list; lookups meanwhile fail closed', async () => {
    const { api: server, directory: made } = await started();
    server.mode = '500';
    server.dropConnections();
    server.put('late', 'production');
    await until('a lookup to fail while the apiserver answers 500', async () => (await made.get('shop').then(() => false, () => true)));
    await expect(made.get('shop')).rejects.toThrow(/cannot read namespace shop/);
    const requestsAt = server.lists;
    await sleep(1500);
    server.mode = 'ok';
    const recoveredMs = await until('the fresh list after the 500s', () => cachedAs(server, made, 'late', 'production'));
    report(`500s for 1.5 s: answered from a fresh list ${recoveredMs} ms after the apiserver answered again`);
    expect(server.lists).toBeGreaterThan(requestsAt);
    await until('one watch, the old informers gone', () => server.openWatches() === 1);
  });

  it('while the watch is down but the apiserver answers reads, a namespace relabelled in the gap is read live, not taken from the old cache', async () => {
    const { api: server, directory: made } = await started();
    server.mode = 'collection-500';
    server.dropConnections();
    server.put('sandbox', 'production'); // the cache still says development
    await sleep(500);
    const reads = server.liveReads;
    expect(environmentOf(await made.get('sandbox'))).toBe('production');
    expect(server.liveReads).toBe(reads + 1);
    expect(made.isReady()).toBe(true);
  });

  it('gives up on a list the apiserver never answers, and lists again', async () => {
    const { api: server, directory: made } = await started(1000);
    server.mode = 'hang';
    server.dropConnections(); // the informer's next list goes to an apiserver that accepts and never answers
    server.put('late', 'production');
    await sleep(1500);
    server.mode = 'ok';
    const recoveredMs = await until('a list after the hung one timed out', () => cachedAs(server, made, 'late', 'production'));
    report(`hung list (1 s list timeout): answered from a fresh list ${recoveredMs} ms after the apiserver answered again`);
  });

  it('backs off when every list succeeds but every watch fails at once (no tight loop of lists)', async () => {
    const { api: server } = await started();
    const lists = server.lists;
    server.mode = 'watch-500';
    server.dropConnections();
    await sleep(3000);
    // Backoff from 200 ms doubling: about 4 lists in 3 s; restarting at the first delay each time would be ~15.
    const relists = server.lists - lists;
    report(`watch failing at once after each list: ${relists} lists in 3 s`);
    expect(relists).toBeGreaterThan(0);
    expect(relists).toBeLessThanOrEqual(6);
  });

  it('stops retrying once closed', async () => {
    const { api: server, directory: made } = await started();
    server.mode = '500';
    server.dropConnections();
    await until('a lookup to fail', async () => (await made.get('shop').then(() => false, () => true)));
    await made.close();
    directory = undefined;
    const lists = server.lists;
    server.mode = 'ok';
    await sleep(1000);
    expect(server.lists).toBe(lists);
    expect(server.openWatches()).toBe(0);
  });
});
