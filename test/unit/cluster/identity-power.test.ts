// The identity-power service against a real local HTTPS server answering SubjectAccessReviews from a table: the
// rights and the review bodies, the cache (hits, expiry by an injected clock, the LRU bound), coalescing, and the
// failures (timeout, 500, malformed answers), which throw and are not cached.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createIdentityPower, type IdentityPowerOptions, type SubjectAccessReview } from '../../../src/cluster/identity-power.js';
import { kubeSendReview } from '../../../src/cluster/kube-subject-access-review.js';
import { DANGEROUS_RIGHTS, serviceAccountUser } from '../../../src/core/dangerous-rights.js';

type Attributes = SubjectAccessReview['spec']['resourceAttributes'];

interface Received {
  method: string;
  url: string;
  authorization: string;
  review: SubjectAccessReview;
}

/** What the server answers for one review; `delayMs` holds the answer back. */
interface Answer {
  status: number;
  body: unknown;
  delayMs?: number;
}

let server: Server;
let dir: string;
let kc: KubeConfig;
let received: Received[] = [];
let connections = 0;
// Per user: which attributes are allowed, or a scripted answer instead of one.
let allowed: (user: string, attributes: Attributes) => boolean;
let scripted: (user: string, attributes: Attributes) => Answer | undefined;

function answer(request: IncomingMessage, response: ServerResponse): void {
  let text = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => { text += chunk; });
  request.on('end', () => {
    const review = JSON.parse(text) as SubjectAccessReview;
    received.push({ method: request.method ?? '', url: request.url ?? '', authorization: request.headers.authorization ?? '', review });
    const { user, resourceAttributes } = review.spec;
    const reply = scripted(user, resourceAttributes) ?? { status: 201, body: { ...review, status: { allowed: allowed(user, resourceAttributes) } } };
    const send = (): void => { response.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body)); };
    if (reply.delayMs === undefined) send();
    else setTimeout(send, reply.delayMs);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'identity-power-'));
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, answer);
  server.on('secureConnection', () => { connections += 1; });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, caData: readFileSync(cert).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 'countersign-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((done) => { server.close(done); });
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  received = [];
  allowed = () => false;
  scripted = () => undefined;
});

const ADMIN = { username: 'system:serviceaccount:shop:admin', groups: ['system:serviceaccounts', 'system:serviceaccounts:shop', 'system:authenticated'] };
const reviewsBy = (user: string): Received[] => received.filter((r) => r.review.spec.user === user);

function service(options: Partial<IdentityPowerOptions> = {}): ReturnType<typeof createIdentityPower> {
  return createIdentityPower({ send: kubeSendReview(kc), ...options });
}

describe('dangerous rights', () => {
  it('have unique names spelled from their verb, resource, subresource and group', () => {
    const names = DANGEROUS_RIGHTS.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    for (const right of DANGEROUS_RIGHTS) {
      const resource = right.subresource === undefined ? right.resource : `${right.resource}/${right.subresource}`;
      expect(right.name).toBe(`${right.verb} ${resource}${right.group === '' ? '' : `.${right.group}`}`);
    }
    expect(DANGEROUS_RIGHTS.length).toBeGreaterThanOrEqual(12);
  });

  it('a ServiceAccount is asked about as the apiserver authenticates its token', () => {
    expect(serviceAccountUser('shop', 'admin')).toEqual(ADMIN);
  });
});

describe('rightsOf', () => {
  it('returns the names of the rights allowed, sorted, after one review per right', async () => {
    const held = new Set(['impersonate users', 'create pods', 'delete namespaces', 'get secrets']);
    allowed = (user, a) => user === ADMIN.username && held.has(DANGEROUS_RIGHTS.find((r) => r.verb === a.verb && r.resource === a.resource && r.subresource === a.subresource)?.name ?? '');
    const rights = await service().rightsOf(ADMIN, 'shop');
    expect(rights).toEqual(['create pods', 'delete namespaces', 'get secrets', 'impersonate users']);
    expect(received).toHaveLength(DANGEROUS_RIGHTS.length);
  });

  it('sends namespaced rights with the namespace and cluster-scoped ones without, authenticated as Countersign', async () => {
    await service().rightsOf(ADMIN, 'shop');
    expect(received).toHaveLength(DANGEROUS_RIGHTS.length);
    for (const r of received) {
      expect(r).toMatchObject({ method: 'POST', url: '/apis/authorization.k8s.io/v1/subjectaccessreviews', authorization: 'Bearer countersign-token' });
      expect(r.review).toMatchObject({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: ADMIN.username, groups: ADMIN.groups } });
    }
    const attributes = (name: string): Attributes | undefined => {
      const right = DANGEROUS_RIGHTS.find((r) => r.name === name);
      return received.find((r) => r.review.spec.resourceAttributes.verb === right?.verb && r.review.spec.resourceAttributes.resource === right.resource
        && r.review.spec.resourceAttributes.subresource === right.subresource)?.review.spec.resourceAttributes;
    };
    expect(attributes('create pods/exec')).toEqual({ verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace: 'shop' });
    expect(attributes('delete deployments.apps')).toEqual({ verb: 'delete', group: 'apps', resource: 'deployments', namespace: 'shop' });
    expect(attributes('delete namespaces')).toEqual({ verb: 'delete', group: '', resource: 'namespaces' });
    expect(attributes('escalate clusterroles.rbac.authorization.k8s.io')).toEqual({ verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' });
    const namespaced = received.filter((r) => 'namespace' in r.review.spec.resourceAttributes).length;
    expect(namespaced).toBe(DANGEROUS_RIGHTS.filter((r) => r.namespaced).length);
    expect(namespaced).toBeGreaterThan(0);
    expect(namespaced).toBeLessThan(DANGEROUS_RIGHTS.length);
  });

  it("asks namespaced rights cluster-wide (namespace '') when the namespace is ''", async () => {
    await service().rightsOf(ADMIN, '');
    const namespaces = received.map((r) => r.review.spec.resourceAttributes.namespace);
    expect(namespaces.filter((ns) => ns === '')).toHaveLength(DANGEROUS_RIGHTS.filter((r) => r.namespaced).length);
    expect(namespaces.filter((ns) => ns !== '' && ns !== undefined)).toEqual([]);
  });

  it('answers again from its cache, whatever the order of the groups, but not for another namespace or user', async () => {
    allowed = () => true;
    const power = service();
    const first = await power.rightsOf(ADMIN, 'shop');
    expect(await power.rightsOf({ ...ADMIN, groups: [...ADMIN.groups].reverse() }, 'shop')).toEqual(first);
    expect(received).toHaveLength(DANGEROUS_RIGHTS.length);
    await power.rightsOf(ADMIN, 'other');
    await power.rightsOf({ ...ADMIN, groups: ['system:authenticated'] }, 'shop');
    expect(received).toHaveLength(3 * DANGEROUS_RIGHTS.length);
  });

  it('asks again once the answer is 30 s old', async () => {
    let clock = 1_000_000;
    const power = service({ now: () => clock });
    await power.rightsOf(ADMIN, 'shop');
    clock += 29_999;
    await power.rightsOf(ADMIN, 'shop');
    expect(received).toHaveLength(DANGEROUS_RIGHTS.length);
    clock += 1;
    allowed = () => true;
    expect(await power.rightsOf(ADMIN, 'shop')).toHaveLength(DANGEROUS_RIGHTS.length);
    expect(received).toHaveLength(2 * DANGEROUS_RIGHTS.length);
  });

  it('sends one set of reviews for concurrent identical questions', async () => {
    scripted = (_user, a) => ({ status: 201, body: { status: { allowed: a.verb === 'impersonate' } }, delayMs: 50 });
    const lookups: string[] = [];
    const power = service({ onLookup: (result) => { lookups.push(result); } });
    const [a, b] = await Promise.all([power.rightsOf(ADMIN, 'shop'), power.rightsOf(ADMIN, 'shop')]);
    expect(a).toEqual(DANGEROUS_RIGHTS.filter((r) => r.verb === 'impersonate').map((r) => r.name).sort());
    expect(b).toEqual(a);
    expect(received).toHaveLength(DANGEROUS_RIGHTS.length);
    expect(lookups.sort()).toEqual(['coalesced', 'miss']);
  });

  it('keeps at most maxEntries answers, dropping the least recently used', async () => {
    const power = service({ maxEntries: 2 });
    const user = (name: string): typeof ADMIN => ({ ...ADMIN, username: name });
    await power.rightsOf(user('a'), 'shop');
    await power.rightsOf(user('b'), 'shop');
    await power.rightsOf(user('a'), 'shop');
    await power.rightsOf(user('c'), 'shop');
    expect(received).toHaveLength(3 * DANGEROUS_RIGHTS.length);
    await power.rightsOf(user('a'), 'shop');
    await power.rightsOf(user('c'), 'shop');
    expect(received).toHaveLength(3 * DANGEROUS_RIGHTS.length);
    await power.rightsOf(user('b'), 'shop');
    expect(reviewsBy('b')).toHaveLength(2 * DANGEROUS_RIGHTS.length);
  });

  it('throws when a review takes longer than the timeout, and does not cache the failure', async () => {
    let slow = true;
    // Generous against a loaded machine: the other reviews (fresh TLS connections) must answer well inside 1 s.
    scripted = (_user, a) => (slow && a.verb === 'get' && a.resource === 'secrets' ? { status: 201, body: { status: { allowed: true } }, delayMs: 4000 } : undefined);
    const power = service({ timeoutMs: 1000 });
    const started = Date.now();
    await expect(power.rightsOf(ADMIN, 'shop')).rejects.toThrow('SubjectAccessReview for get secrets: no answer in 1000 ms');
    // Not a speed measurement: only that the lookup did not wait for the 4 s answer.
    expect(Date.now() - started).toBeLessThan(3500);
    slow = false;
    allowed = (_user, a) => a.verb === 'get' && a.resource === 'secrets';
    expect(await power.rightsOf(ADMIN, 'shop')).toEqual(['get secrets']);
    expect(received).toHaveLength(2 * DANGEROUS_RIGHTS.length);
  }, 15_000);

  it('throws on an error answer with its Status message, and does not cache the failure', async () => {
    let broken = true;
    scripted = (_user, a) => (broken && a.resource === 'nodes' && a.verb === 'patch' ? { status: 500, body: { kind: 'Status', code: 500, message: 'etcd is unhappy' } } : undefined);
    const power = service();
    await expect(power.rightsOf(ADMIN, 'shop')).rejects.toThrow('SubjectAccessReview for patch nodes: POST /apis/authorization.k8s.io/v1/subjectaccessreviews: 500 etcd is unhappy');
    broken = false;
    await expect(power.rightsOf(ADMIN, 'shop')).resolves.toEqual([]);
    expect(received.filter((r) => r.review.spec.resourceAttributes.resource === 'nodes' && r.review.spec.resourceAttributes.verb === 'patch')).toHaveLength(2);
  });

  it('throws on an answer without status.allowed', async () => {
    scripted = (_user, a) => (a.verb === 'bind' && a.resource === 'clusterroles' ? { status: 201, body: { kind: 'SubjectAccessReview', status: { allowed: 'yes' } } } : undefined);
    await expect(service().rightsOf(ADMIN, 'shop')).rejects.toThrow('SubjectAccessReview for bind clusterroles.rbac.authorization.k8s.io: the answer carries no boolean status.allowed');
  });

  it('counts an evaluationError beside allowed false as not allowed, and beside allowed true as allowed', async () => {
    scripted = (_user, a) => {
      if (a.verb === 'escalate') return { status: 201, body: { status: { allowed: false, evaluationError: 'clusterrole.rbac.authorization.k8s.io "gone" not found' } } };
      if (a.verb === 'bind') return { status: 201, body: { status: { allowed: true, evaluationError: 'clusterrole.rbac.authorization.k8s.io "gone" not found' } } };
      return undefined;
    };
    expect(await service().rightsOf(ADMIN, 'shop')).toEqual(DANGEROUS_RIGHTS.filter((r) => r.verb === 'bind').map((r) => r.name).sort());
  });

  it('reuses its TLS connections from one lookup to the next', async () => {
    const power = service();
    await power.rightsOf(ADMIN, 'shop');
    const opened = connections;
    await power.rightsOf(ADMIN, 'another');
    expect(received).toHaveLength(2 * DANGEROUS_RIGHTS.length);
    expect(connections).toBe(opened);
  });
});
