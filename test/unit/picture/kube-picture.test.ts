// The live cluster picture against a scripted API server: sync, events, the idle watchdog, staleness, 410 relists,
// CRDs appearing and resources going away; and the https transport against a plain local HTTP server.
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../../src/observability/logger.js';
import { readDiscovery } from '../../../src/picture/discovery.js';
import { httpsTransport, LineSplitter } from '../../../src/kube/https-transport.js';
import { kubePicture, type KubePicture, type KubePictureOptions } from '../../../src/picture/kube-picture.js';
import { pictureStatus } from '../../../src/picture/picture-status.js';
import { ApiStatusError, type ListPage, type ListRequest, type PictureTransport, type WatchRequest } from '../../../src/kube/transport.js';
import { localKubeConfig } from '../../helpers/local-kubeconfig.js';

const log = createLogger('silent');
const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface Kind {
  group: string;
  version: string;
  plural: string;
  verbs?: string[];
}

function discoveryDocuments(kinds: readonly Kind[], staleGroups: readonly string[] = []): unknown[] {
  const groups = new Map<string, Map<string, Kind[]>>();
  for (const kind of kinds) {
    const versions = groups.get(kind.group) ?? new Map<string, Kind[]>();
    versions.set(kind.version, [...(versions.get(kind.version) ?? []), kind]);
    groups.set(kind.group, versions);
  }
  const item = ([group, versions]: [string, Map<string, Kind[]>]): unknown => ({
    metadata: group === '' ? {} : { name: group },
    versions: [...versions].map(([version, resources]) => ({
      version,
      freshness: staleGroups.includes(group) ? 'Stale' : 'Current',
      // What a stale group reports about its resources cannot be relied on; an empty list is the worst case.
      resources: (staleGroups.includes(group) ? [] : resources).map((kind) => ({ resource: kind.plural, scope: 'Namespaced', verbs: kind.verbs ?? ALL_VERBS, subresources: [{ subresource: 'status', verbs: ['get'] }] })),
    })),
  });
  const list = (items: unknown[]): unknown => ({ kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', items });
  return [list([...groups].filter(([group]) => group === '').map(item)), list([...groups].filter(([group]) => group !== '').map(item))];
}

function object(uid: string, name: string, extra: { namespace?: string; resourceVersion?: string; owners?: string[] } = {}): unknown {
  const metadata: Record<string, unknown> = { uid, name, namespace: extra.namespace ?? 'shop', resourceVersion: extra.resourceVersion ?? '1' };
  if (extra.owners !== undefined) metadata.ownerReferences = extra.owners.map((owner) => ({ uid: owner }));
  return { metadata };
}

interface OpenWatch {
  request: WatchRequest;
  closed: boolean;
  send(type: string, object: unknown): void;
  end(): void;
  fail(error: Error): void;
}

class FakeApi implements PictureTransport {
  kinds: Kind[] = [];
  staleGroups: string[] = [];
  discoveryFailures: Error[] = [];
  readonly store = new Map<string, unknown[]>();
  readonly listFailures = new Map<string, Error[]>();
  /** Paths whose lists are refused until removed from here. */
  readonly forbidden = new Set<string>();
  readonly lists: ListRequest[] = [];
  readonly watches: OpenWatch[] = [];
  resourceVersion = 100;
  pageSize = 2;

  discover(): Promise<readonly unknown[]> {
    const failure = this.discoveryFailures.shift();
    return failure === undefined ? Promise.resolve(discoveryDocuments(this.kinds, this.staleGroups)) : Promise.reject(failure);
  }

  list(request: ListRequest): Promise<ListPage> {
    this.lists.push(request);
    const failure = this.listFailures.get(request.path)?.shift();
    if (failure !== undefined) return Promise.reject(failure);
    if (this.forbidden.has(request.path)) return Promise.reject(new ApiStatusError(403, `GET ${request.path}: 403 forbidden`));
    const all = this.store.get(request.path) ?? [];
    const start = request.continueToken === '' ? 0 : Number(request.continueToken);
    const end = start + this.pageSize;
    return Promise.resolve({ items: all.slice(start, end), resourceVersion: String(this.resourceVersion), continueToken: end < all.length ? String(end) : '' });
  }

  watch(request: WatchRequest): Promise<void> {
    return new Promise((resolve, reject) => {
      const open: OpenWatch = {
        request,
        closed: false,
        send: (type, object) => {
          try {
            request.onEvent({ type, object });
          } catch (error: unknown) {
            open.fail(error as Error);
          }
        },
        end: () => {
          open.closed = true;
          resolve();
        },
        fail: (error) => {
          open.closed = true;
          reject(error);
        },
      };
      request.signal.addEventListener('abort', () => { open.fail(new Error('aborted')); }, { once: true });
      this.watches.push(open);
      request.onConnect();
    });
  }

  openWatch(path: string): OpenWatch | undefined {
    return this.watches.filter((watch) => watch.request.path === path && !watch.closed).at(-1);
  }

  listsOf(path: string): number {
    return this.lists.filter((list) => list.path === path && list.continueToken === '').length;
  }
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 2));
  }
}

const PODS = '/api/v1/pods';
const CONFIGMAPS = '/api/v1/configmaps';
const DEPLOYMENTS = '/apis/apps/v1/deployments';
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const WIDGETS = '/apis/example.com/v2/widgets';

function cluster(): FakeApi {
  const api = new FakeApi();
  api.kinds = [
    { group: '', version: 'v1', plural: 'pods' },
    { group: '', version: 'v1', plural: 'configmaps' },
    { group: '', version: 'v1', plural: 'persistentvolumeclaims' },
    { group: '', version: 'v1', plural: 'events' },
    { group: '', version: 'v1', plural: 'componentstatuses', verbs: ['get', 'list'] },
    { group: 'apps', version: 'v1', plural: 'deployments' },
    { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' },
    { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
  ];
  api.store.set(PODS, [object('pod-1', 'web-1', { owners: ['rs-1'] }), object('pod-2', 'web-2', { owners: ['rs-1'] })]);
  api.store.set(CONFIGMAPS, [1, 2, 3, 4, 5].map((n) => object(`cm-${n}`, `config-${n}`)));
  api.store.set(DEPLOYMENTS, [object('deploy-1', 'web')]);
  return api;
}

let clockMs = 1_000_000;
const now = (): number => clockMs;
const pictures: KubePicture[] = [];

function start(api: FakeApi, options: KubePictureOptions = {}): KubePicture {
  const picture = kubePicture(new KubeConfig(), log, {
    transport: api,
    now,
    rediscoverySeconds: 3600,
    watchdogSeconds: 3600,
    crdSettleMs: 0,
    backoff: { initialMs: 1, maxMs: 5 },
    ...options,
  });
  pictures.push(picture);
  return picture;
}

async function synced(api: FakeApi, options: KubePictureOptions = {}): Promise<KubePicture> {
  const picture = start(api, options);
  await until('the picture to be ready', () => picture.status().ready);
  return picture;
}

afterEach(async () => {
  await Promise.all(pictures.splice(0).map((picture) => picture.close()));
});

describe('kubePicture', () => {
  it('lists every listable, watchable, deletable resource (paginated) and is ready once all have listed', async () => {
    const api = cluster();
    const picture = await synced(api);
    const status = picture.status();
    expect(status).toMatchObject({ ready: true, objects: 8, resources: 5 });
    expect(status.reason).toBeUndefined();
    expect([...picture.view.ofResource('configmaps')].map((entry) => entry.name).sort()).toEqual(['config-1', 'config-2', 'config-3', 'config-4', 'config-5']);
    expect([...picture.view.dependentsOf('rs-1')].map((entry) => entry.name).sort()).toEqual(['web-1', 'web-2']);
    // Excluded (events, leases) and not deletable (componentstatuses) resources are not followed.
    expect(new Set(api.lists.map((list) => list.path))).toEqual(new Set([PODS, CONFIGMAPS, DEPLOYMENTS, CRDS, '/api/v1/persistentvolumeclaims']));
    expect(api.lists.filter((list) => list.path === CONFIGMAPS).map((list) => list.continueToken)).toEqual(['', '2', '4']);
    expect(api.lists.find((list) => list.path === PODS)?.accept).toBe('application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json');
    expect(api.lists.find((list) => list.path === '/api/v1/persistentvolumeclaims')?.accept).toBe('application/json');
    const podWatch = api.openWatch(PODS)!.request;
    expect(podWatch).toMatchObject({ resourceVersion: '100', accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json' });
    expect(podWatch.timeoutSeconds).toBeGreaterThanOrEqual(240);
    expect(podWatch.timeoutSeconds).toBeLessThanOrEqual(360);
  });

  it('is not ready before discovery has worked, and retries a failed discovery', async () => {
    const api = cluster();
    api.discoveryFailures = [new Error('connection refused'), new Error('connection refused')];
    const picture = start(api);
    expect(picture.status()).toMatchObject({ ready: false, resources: 0 });
    expect(picture.status().reason).toMatch(/^cluster picture not ready: the API server's resources are not yet discovered/);
    await until('the picture to be ready', () => picture.status().ready);
  });

  it('names the resources not yet listed, and keeps retrying a failing list', async () => {
    const api = cluster();
    api.forbidden.add(DEPLOYMENTS);
    const picture = start(api);
    await until('deployments to be tried three times', () => api.listsOf(DEPLOYMENTS) >= 3 && api.openWatch(PODS) !== undefined && api.openWatch(CONFIGMAPS) !== undefined && api.openWatch(CRDS) !== undefined && api.openWatch('/api/v1/persistentvolumeclaims') !== undefined);
    expect(picture.status()).toMatchObject({ ready: false, reason: 'cluster picture not ready: 1 resource not yet listed (deployments.apps)' });
    api.forbidden.delete(DEPLOYMENTS);
    await until('the picture to be ready', () => picture.status().ready);
  });

  it('applies ADDED, MODIFIED and DELETED events and follows the resourceVersion', async () => {
    const api = cluster();
    const picture = await synced(api);
    const pods = api.openWatch(PODS)!;
    pods.send('ADDED', object('pod-3', 'web-3', { resourceVersion: '101' }));
    expect(picture.view.get('pod-3')?.name).toBe('web-3');
    pods.send('MODIFIED', object('pod-3', 'web-3', { resourceVersion: '102', owners: ['rs-2'] }));
    expect([...picture.view.dependentsOf('rs-2')].map((entry) => entry.uid)).toEqual(['pod-3']);
    pods.send('DELETED', object('pod-1', 'web-1', { resourceVersion: '103' }));
    expect(picture.view.get('pod-1')).toBeUndefined();
    expect(picture.status().objects).toBe(8);
    // A watch the server ends (its timeoutSeconds) is re-established from the last resourceVersion seen.
    pods.end();
    await until('a new pod watch', () => api.openWatch(PODS) !== undefined);
    expect(api.openWatch(PODS)!.request.resourceVersion).toBe('103');
    expect(api.listsOf(PODS)).toBe(1);
  });

  it('aborts a watch silent for longer than idleRestartSeconds and watches again from the last resourceVersion', async () => {
    const api = cluster();
    const picture = await synced(api, { idleRestartSeconds: 70 });
    const first = api.openWatch(CONFIGMAPS)!;
    first.send('BOOKMARK', { metadata: { resourceVersion: '150' } });
    clockMs += 70_000;
    picture.tick();
    expect(first.closed).toBe(false);
    clockMs += 1000;
    picture.tick();
    expect(first.closed).toBe(true);
    expect(first.request.signal.aborted).toBe(true);
    await until('a new configmap watch', () => api.openWatch(CONFIGMAPS) !== undefined);
    expect(api.openWatch(CONFIGMAPS)!.request.resourceVersion).toBe('150');
    expect(api.listsOf(CONFIGMAPS)).toBe(1);
    expect(picture.view.get('cm-1')).toBeDefined();
  });

  it('is not ready while a resource goes unconfirmed longer than staleAfterSeconds, and ready again on word from it', async () => {
    const api = cluster();
    const picture = await synced(api, { staleAfterSeconds: 120 });
    clockMs += 100_000;
    for (const path of [PODS, DEPLOYMENTS, CRDS, '/api/v1/persistentvolumeclaims']) api.openWatch(path)!.send('BOOKMARK', { metadata: { resourceVersion: '200' } });
    clockMs += 30_000;
    const status = picture.status();
    expect(status.ready).toBe(false);
    expect(status.reason).toBe('cluster picture not ready: stale: configmaps (no word from the API server for 130 s)');
    expect(status.ageSeconds).toBe(130);
    api.openWatch(CONFIGMAPS)!.send('BOOKMARK', { metadata: { resourceVersion: '201' } });
    expect(picture.status()).toMatchObject({ ready: true, ageSeconds: 30 });
  });

  it('lists again after 410 Gone, from a watch ERROR event or from the watch request', async () => {
    const api = cluster();
    const picture = await synced(api);
    api.store.set(PODS, [object('pod-9', 'web-9')]);
    api.resourceVersion = 300;
    api.openWatch(PODS)!.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 100 (250)' });
    await until('a relist of pods', () => api.listsOf(PODS) === 2 && api.openWatch(PODS) !== undefined);
    expect([...picture.view.ofResource('pods')].map((entry) => entry.uid)).toEqual(['pod-9']);
    expect(api.openWatch(PODS)!.request.resourceVersion).toBe('300');
    api.openWatch(PODS)!.fail(new ApiStatusError(410, 'GET /api/v1/pods: 410 too old resource version'));
    await until('another relist of pods', () => api.listsOf(PODS) === 3 && api.openWatch(PODS) !== undefined);
    expect(picture.status().ready).toBe(true);
  });

  it('follows a resource whose CRD appears, and drops a resource that goes away', async () => {
    const api = cluster();
    const picture = await synced(api);
    api.kinds.push({ group: 'example.com', version: 'v2', plural: 'widgets' }, { group: 'example.com', version: 'v1', plural: 'widgets' });
    api.store.set(WIDGETS, [object('widget-1', 'left'), object('widget-2', 'right')]);
    api.openWatch(CRDS)!.send('ADDED', { metadata: { uid: 'crd-1', name: 'widgets.example.com', resourceVersion: '400' } });
    expect(picture.view.get('crd-1')).toBeDefined();
    await until('widgets to be listed', () => picture.view.get('widget-1') !== undefined && picture.status().ready);
    expect(picture.status().resources).toBe(6);
    // The preferred (first-listed) version is the one watched.
    expect(api.openWatch(WIDGETS)).toBeDefined();

    api.kinds = api.kinds.filter((kind) => kind.group !== 'example.com');
    const widgets = api.openWatch(WIDGETS)!;
    await picture.rediscover();
    expect(widgets.request.signal.aborted).toBe(true);
    expect([...picture.view.ofResource('widgets.example.com')]).toEqual([]);
    expect(picture.status()).toMatchObject({ ready: true, resources: 5 });
  });

  it('keeps following a group whose discovery is stale instead of dropping it', async () => {
    const api = cluster();
    const picture = await synced(api);
    api.staleGroups = ['apps'];
    await picture.rediscover();
    expect(picture.view.get('deploy-1')).toBeDefined();
    expect(api.openWatch(DEPLOYMENTS)).toBeDefined();
    // Ready (what it has is current), but it says which groups it cannot vouch for.
    expect(picture.status()).toMatchObject({ ready: true, unknownGroups: ['apps'] });
    api.staleGroups = [];
    await picture.rediscover();
    expect(picture.status().unknownGroups).toBeUndefined();
  });

  it('closes every watch and timer', async () => {
    const api = cluster();
    const picture = await synced(api, { rediscoverySeconds: 1, watchdogSeconds: 1 });
    await picture.close();
    // One watch per followed resource at least (five here), every one closed.
    expect(api.watches.length).toBeGreaterThanOrEqual(5);
    expect(api.watches.filter((watch) => !watch.closed)).toEqual([]);
    const watches = api.watches.length;
    await new Promise((done) => setTimeout(done, 20));
    expect(api.watches.length).toBe(watches);
  });
});

describe('readDiscovery', () => {
  it('takes each resource from the first version that serves it and skips stale groups', () => {
    const documents = discoveryDocuments([
      { group: 'example.com', version: 'v2', plural: 'widgets' },
      { group: 'example.com', version: 'v1', plural: 'widgets' },
      { group: 'example.com', version: 'v1', plural: 'gadgets' },
      { group: 'metrics.k8s.io', version: 'v1beta1', plural: 'pods', verbs: ['get', 'list'] },
      { group: 'broken.example.com', version: 'v1', plural: 'things' },
    ], ['broken.example.com']);
    expect(readDiscovery(documents, new Set())).toEqual({
      resources: [
        { key: 'widgets.example.com', group: 'example.com', path: '/apis/example.com/v2/widgets' },
        { key: 'gadgets.example.com', group: 'example.com', path: '/apis/example.com/v1/gadgets' },
      ],
      staleGroups: ['broken.example.com'],
    });
  });

  it('refuses an answer that is not aggregated discovery', () => {
    expect(() => readDiscovery([{ kind: 'APIGroupList', groups: [] }], new Set())).toThrow(/Kubernetes 1.30 or later/);
  });
});

describe('pictureStatus', () => {
  it('names at most five resources', () => {
    const resources = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((key) => ({ key, listed: false, lastConfirmedAt: undefined, startedAt: 0 }));
    const status = pictureStatus({ discovered: true, discoveryError: undefined, resources, objects: 0, now: 5000, staleAfterMs: 120_000 });
    expect(status.reason).toBe('cluster picture not ready: 7 resources not yet listed (a, b, c, d, e and 2 more)');
    expect(status.ageSeconds).toBe(5);
  });
});

describe('LineSplitter', () => {
  it('reassembles lines split across chunks', () => {
    const lines = new LineSplitter();
    expect(lines.push('{"type":"ADD')).toEqual([]);
    expect(lines.push('ED"}\n{"type":"BOOKMARK"}\n{"ty')).toEqual(['{"type":"ADDED"}', '{"type":"BOOKMARK"}']);
    expect(lines.push('pe":"DELETED"}')).toEqual([]);
    expect(lines.flush()).toEqual(['{"type":"DELETED"}']);
  });
});

describe('httpsTransport', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    const closing = server;
    if (closing !== undefined) await new Promise((done) => { closing.close(done); });
    server = undefined;
  });

  async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<KubeConfig> {
    const listening = createServer(handler);
    server = listening;
    await new Promise<void>((done) => listening.listen(0, '127.0.0.1', done));
    const { port } = listening.address() as AddressInfo;
    return localKubeConfig(port);
  }

  it('lists with the given Accept, limit and continue token, authenticated', async () => {
    const seen: IncomingMessage[] = [];
    const kc = await serve((request, response) => {
      seen.push(request);
      response.end(JSON.stringify({ metadata: { resourceVersion: '42', continue: 'next' }, items: [{ metadata: { uid: 'u1' } }] }));
    });
    const page = await httpsTransport(kc).list({ path: PODS, accept: 'application/json', limit: 500, continueToken: 'abc', signal: new AbortController().signal });
    expect(page).toEqual({ items: [{ metadata: { uid: 'u1' } }], resourceVersion: '42', continueToken: 'next' });
    expect(seen[0]!.url).toBe('/api/v1/pods?limit=500&continue=abc');
    expect(seen[0]!.headers).toMatchObject({ accept: 'application/json', authorization: 'Bearer secret-token' });
  });

  it('takes an empty PartialObjectMetadataList (items: null) as empty, and refuses what is not a list', async () => {
    const kc = await serve((request, response) => {
      response.end(request.url?.startsWith('/api/v1/pods') === true ? '{"kind":"PartialObjectMetadataList","metadata":{"resourceVersion":"9"},"items":null}' : '{"kind":"Status"}');
    });
    const request = { accept: 'application/json', limit: 500, continueToken: '', signal: new AbortController().signal };
    await expect(httpsTransport(kc).list({ ...request, path: PODS })).resolves.toEqual({ items: [], resourceVersion: '9', continueToken: '' });
    await expect(httpsTransport(kc).list({ ...request, path: CONFIGMAPS })).rejects.toThrow('GET /api/v1/configmaps?limit=500: the answer is not a list');
  });

  it('reports a plain-text error answer with its code once', async () => {
    const kc = await serve((_request, response) => { response.writeHead(404).end('404 page not found\n'); });
    const listing = httpsTransport(kc).list({ path: WIDGETS, accept: 'application/json', limit: 500, continueToken: '', signal: new AbortController().signal });
    await expect(listing).rejects.toMatchObject({ code: 404, message: 'GET /apis/example.com/v2/widgets?limit=500: 404 page not found' });
  });

  it('reports the Status of an error answer with its code', async () => {
    const kc = await serve((_request, response) => {
      response.writeHead(410).end(JSON.stringify({ kind: 'Status', code: 410, message: 'The provided continue parameter is too old' }));
    });
    const listing = httpsTransport(kc).list({ path: PODS, accept: 'application/json', limit: 500, continueToken: '', signal: new AbortController().signal });
    await expect(listing).rejects.toMatchObject({ code: 410, message: 'GET /api/v1/pods?limit=500: 410 The provided continue parameter is too old' });
  });

  it('streams watch events split across chunks, and ends with the stream', async () => {
    let url = '';
    const kc = await serve((request, response) => {
      url = request.url ?? '';
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"type":"ADDED","object":{"metadata":{"uid":"a"}}}\n{"type":"BOOK');
      setTimeout(() => { response.end('MARK","object":{"metadata":{"resourceVersion":"7"}}}\n'); }, 10);
    });
    const events: string[] = [];
    let connected = false;
    await httpsTransport(kc).watch({
      path: PODS, accept: 'application/json', resourceVersion: '5', timeoutSeconds: 300, signal: new AbortController().signal,
      onConnect: () => { connected = true; },
      onEvent: (event) => { events.push(event.type); },
    });
    expect(connected).toBe(true);
    expect(events).toEqual(['ADDED', 'BOOKMARK']);
    expect(url).toBe('/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=5&timeoutSeconds=300');
  });

  it('rejects a watch when aborted or when onEvent throws', async () => {
    const kc = await serve((_request, response) => {
      response.writeHead(200);
      response.write('{"type":"ERROR","object":{"code":410}}\n');
    });
    const controller = new AbortController();
    const request = { path: PODS, accept: 'application/json', resourceVersion: '5', timeoutSeconds: 300, onConnect: (): void => undefined };
    const refused = httpsTransport(kc).watch({ ...request, signal: controller.signal, onEvent: () => { throw new ApiStatusError(410, 'gone'); } });
    await expect(refused).rejects.toMatchObject({ code: 410 });
    const aborted = httpsTransport(kc).watch({ ...request, signal: controller.signal, onEvent: () => { controller.abort(); } });
    await expect(aborted).rejects.toThrow();
  });
});
