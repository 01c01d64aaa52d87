// The HTTP protocol: status codes, uid echo, fail-closed errors, metrics; over inject and over real TLS.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { Server } from 'node:https';
import type { FastifyInstance } from 'fastify';
import type { KubeObject } from '../../../src/kube/types.js';
import type { NamespaceDirectory } from '../../../src/cluster/namespace-directory.js';
import { staticNamespaceDirectory } from '../../../src/cluster/namespace-directory.js';
import type { Judge } from '../../../src/core/decide.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { buildApp } from '../../../src/server/app.js';
import { readKeyPair, reloadTls } from '../../../src/server/tls-reloader.js';
import { defaultJudge, heldOutNamespaces, heldOutReview, EMPTY_CLUSTER } from '../../helpers/fixtures.js';
import { makeCert } from '../../helpers/tls.js';

const log = createLogger('silent');

function app(judge: Judge, namespaces: NamespaceDirectory = staticNamespaceDirectory(heldOutNamespaces())): FastifyInstance {
  return buildApp({ judge: () => judge, namespaces, picture: EMPTY_CLUSTER, log, metrics: createMetrics(false), ready: () => namespaces.isReady() });
}

const json = { 'content-type': 'application/json' };

describe('POST /validate', () => {
  let server: FastifyInstance;
  beforeAll(async () => { server = app(await defaultJudge()); });

  it('answers 415 for a content type other than JSON', async () => {
    const res = await server.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    expect(res.statusCode).toBe(415);
    expect(res.json()).toEqual({ error: 'unsupported content type: send an AdmissionReview as application/json' });
  });

  it.each([
    ['{"apiVersion":', 'malformed JSON: '],
    ['[]', 'body: must be a JSON object'],
    ['{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}', 'apiVersion: must be "admission.k8s.io/v1" (got "admission.k8s.io/v1beta1")'],
    ['{"apiVersion":"admission.k8s.io/v1","kind":"Review"}', 'kind: must be "AdmissionReview" (got "Review")'],
    ['{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}', 'request: required object is missing'],
    ['{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"DELETE"}}', 'request.uid: required string is missing'],
  ])('answers 400 naming what is wrong: %s', async (payload, message) => {
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload });
    expect(res.statusCode).toBe(400);
    expect((res.json<{ error: string }>()).error).toContain(message);
  });

  it('names the field of a malformed request', async () => {
    const review = heldOutReview('agent-delete-production-deployment');
    (review.request as unknown as Record<string, unknown>).operation = 'ERASE';
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: review });
    expect(res.json()).toEqual({ error: 'request.operation: must be one of CREATE, UPDATE, DELETE, CONNECT (got "ERASE")' });
  });

  it('echoes the uid and denies an agent deleting a production namespace', async () => {
    const review = heldOutReview('agent-delete-production-namespace');
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: review });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ apiVersion: string; kind: string; response: { uid: string; allowed: boolean; status: { code: number; message: string } } }>();
    expect(body.apiVersion).toBe('admission.k8s.io/v1');
    expect(body.kind).toBe('AdmissionReview');
    expect(body.response.uid).toBe(review.request.uid);
    expect(body.response.allowed).toBe(false);
    expect(body.response.status.message).toMatch(/requires a human approval.*namespace shop-prod/);
  });

  it('accepts a body larger than Fastify\'s 1 MiB default and refuses one over 7 MiB with 413', async () => {
    const review = heldOutReview('agent-create-production-configmap');
    (review.request.object as KubeObject).data = { blob: 'x'.repeat(3 * 1024 * 1024) };
    const big = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(review) });
    expect(big.statusCode).toBe(200);
    (review.request.object as KubeObject).data = { blob: 'x'.repeat(8 * 1024 * 1024) };
    const huge = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(review) });
    expect(huge.statusCode).toBe(413);
  });
});

describe('failing closed for agents only', () => {
  const broken: NamespaceDirectory = {
    isReady: () => true,
    get: () => Promise.reject(new Error('apiserver unreachable')),
    close: () => Promise.resolve(),
  };

  it('answers an explicit allowed:false with code 500 when an agent request cannot be judged', async () => {
    const server = app(await defaultJudge(), broken);
    const review = heldOutReview('agent-delete-development-deployment');
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: review });
    expect(res.statusCode).toBe(200);
    const { response } = res.json<{ response: { uid: string; allowed: boolean; status: { code: number; message: string } } }>();
    expect(response).toMatchObject({ uid: review.request.uid, allowed: false, status: { code: 500 } });
    expect(response.status.message).toContain('apiserver unreachable');
  });

  it('still allows humans when the namespace lookup is broken', async () => {
    const server = app(await defaultJudge(), broken);
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: heldOutReview('human-delete-production-deployment') });
    expect(res.json<{ response: { allowed: boolean } }>().response.allowed).toBe(true);
  });

  it('refuses agents while the cluster picture has not synced, and says so on /readyz', async () => {
    const unsynced: NamespaceDirectory = { ...broken, isReady: () => false };
    const server = app(await defaultJudge(), unsynced);
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: heldOutReview('agent-create-development-pod') });
    expect(res.json<{ response: { allowed: boolean; status: { message: string } } }>().response).toMatchObject({ allowed: false });
    expect((await server.inject({ url: '/readyz' })).statusCode).toBe(503);
  });

  it('allows everyone else if the judge itself throws, and refuses agents', async () => {
    const judge = await defaultJudge();
    const exploding: Judge = { ...judge, decide: () => { throw new Error('boom'); } };
    const server = app(exploding);
    const human = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: heldOutReview('human-delete-production-namespace') });
    const agent = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: heldOutReview('agent-create-development-pod') });
    expect(human.json<{ response: { allowed: boolean } }>().response.allowed).toBe(true);
    expect(agent.json<{ response: { allowed: boolean; status: { code: number } } }>().response).toMatchObject({ allowed: false, status: { code: 500 } });
  });
});

describe('metrics and probes', () => {
  it('counts decisions with bounded labels: the agent\'s identity, never the object\'s name', async () => {
    const server = app(await defaultJudge());
    await server.inject({ method: 'POST', url: '/validate', headers: json, payload: heldOutReview('agent-delete-production-namespace') });
    const res = await server.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(
      'countersign_admission_decisions_total{decision="denied",tier="require-approval",operation="DELETE",resource="namespaces",environment="production",rule="production-namespace-delete",dry_run="false",agent="system:serviceaccount:agents:coder"} 1',
    );
    expect(res.body).not.toContain('shop-prod');
    expect((await server.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await server.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});

function post(port: number, ca: string | string[], body: string): Promise<{ status: number; body: string; peerCN: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path: '/validate', method: 'POST', ca, headers: json, agent: false },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        res.on('end', () => {
          const peer = (res.socket as unknown as { getPeerCertificate(): { subject: { CN: unknown } } }).getPeerCertificate();
          resolve({ status: res.statusCode ?? 0, body: text, peerCN: String(peer.subject.CN) });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('over real TLS on 127.0.0.1', () => {
  const first = makeCert('countersign-one');
  const second = makeCert('countersign-two');
  let server: FastifyInstance;
  let port = 0;
  const tlsMetrics = createMetrics(false);

  beforeAll(async () => {
    const judge = await defaultJudge();
    const namespaces = staticNamespaceDirectory(heldOutNamespaces());
    server = buildApp({ judge: () => judge, namespaces, picture: EMPTY_CLUSTER, log, metrics: tlsMetrics, ready: () => true }, await readKeyPair(first));
    await server.listen({ host: '127.0.0.1', port: 0 });
    const address = server.server.address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });
  afterAll(async () => { await server.close(); });

  it('serves decisions and 400s over HTTPS', async () => {
    const review = heldOutReview('agent-delete-production-namespace');
    const ok = await post(port, first.cert, JSON.stringify(review));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ response: { uid: review.request.uid, allowed: false } });
    expect((await post(port, first.cert, '{nope')).status).toBe(400);
    // Each post above opened its own connection (agent: false): both handshakes are counted.
    expect((await tlsMetrics.tlsConnections.get()).values[0]?.value).toBe(2);
  });

  it('reloads the certificate for new connections without failing requests', async () => {
    const review = JSON.stringify(heldOutReview('agent-create-development-pod'));
    // Clients trust both certificates (as the apiserver does with an old+new CA bundle during rotation).
    const both = [first.cert, second.cert];
    const inFlight = Array.from({ length: 20 }, () => post(port, both, review));
    // Replace the files in place, as a Secret update does, then reload.
    copyFileSync(second.certFile, first.certFile);
    copyFileSync(second.keyFile, first.keyFile);
    const reloaded = await reloadTls(server.server as unknown as Server, first, log);
    const results = await Promise.all(inFlight);
    expect(reloaded?.cert).toBe(second.cert);
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 200));
    const after = await post(port, both, review);
    expect(after.status).toBe(200);
    expect(after.peerCN).toBe('countersign-two');
  });

  it('keeps the current certificate when the new key does not match', async () => {
    const other = makeCert('countersign-three');
    copyFileSync(other.certFile, first.certFile); // key not updated yet: a half-written pair
    expect(await reloadTls(server.server as unknown as Server, first, log)).toBeUndefined();
    expect((await post(port, second.cert, JSON.stringify(heldOutReview('agent-create-development-pod')))).peerCN).toBe('countersign-two');
  });
});

describe('approval resources without a cluster connection', () => {
  it('are refused rather than admitted unchecked (static --cluster mode)', async () => {
    const server = app(await defaultJudge());
    const review = heldOutReview('human-delete-production-deployment');
    review.request.resource = { group: 'countersign.dev', version: 'v1alpha1', resource: 'approvals' };
    review.request.operation = 'CREATE';
    const res = await server.inject({ method: 'POST', url: '/validate', headers: json, payload: review });
    expect(res.json<{ response: { allowed: boolean; status: { message: string } } }>().response).toMatchObject({ allowed: false, status: { message: expect.stringContaining('cannot be checked without a connection') as unknown } });
  });
});
