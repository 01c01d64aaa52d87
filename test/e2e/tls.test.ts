// Self-managed TLS against the real apiserver: two replicas share one Secret, mint their CA, keep the webhook
// configuration's caBundle, and rotate the CA and serving certificates on a compressed schedule (a CA lives 40 s)
// while an agent's kubectl keeps going through the webhook. Go's TLS verifier in the apiserver is the judge.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { parse, stringify } from 'yaml';
import { CLI, freePort, kubeconfigPath, ROOT, startDetached, stopProcess } from '../harness/control-plane.ts';
import { E2E_DIR, eventually, kubectlAs, mustKubectl, sleep } from './kube.ts';

const NAME = 'countersign-tls-e2e';
const NAMESPACE = 'tls-e2e';
const TIMING = { caValiditySeconds: 40, certValiditySeconds: 10, propagationSeconds: 3, checkIntervalSeconds: 1 };

interface Replica {
  pid: number;
  port: number;
  log: string;
}

function writeConfig(): string {
  const policy = parse(readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8')) as Record<string, unknown>;
  const file = join(E2E_DIR, 'tls-e2e-config.yaml');
  writeFileSync(file, stringify({ ...policy, tls: TIMING }));
  return file;
}

async function startSelfManaged(port: number, config: string): Promise<Replica> {
  const log = join(E2E_DIR, `countersign-tls-${port}.log`);
  const since = existsSync(log) ? readFileSync(log, 'utf8').length : 0;
  const pid = startDetached(process.execPath, [
    CLI, 'serve', '--address', '127.0.0.1', '--port', String(port), '--config', config,
    '--kubeconfig', kubeconfigPath(E2E_DIR, 'countersign'),
    '--tls-secret', NAME, '--tls-hosts', '127.0.0.1', '--webhook-configuration', NAME,
  ], log);
  await eventually(`the replica on ${port} to serve`, 60_000, () => {
    const text = readFileSync(log, 'utf8').slice(since);
    try {
      process.kill(pid, 0);
    } catch {
      throw new Error(`the replica on ${port} exited: ${text}`);
    }
    return text.includes('cluster picture synced') ? true : undefined;
  });
  return { pid, port, log };
}

/** The certificate a replica presents right now, as a TLS client sees it. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
      socket.end();
    });
    socket.on('error', reject);
  });
}

interface Sample {
  cas: number;
  signer: string;
  vwcBundle: string;
  secretBundle: string;
}

function sample(): Sample {
  const secret = JSON.parse(mustKubectl('admin', ['get', 'secret', NAME, '-n', 'countersign', '-o', 'json'])) as { data: Record<string, string> };
  const bundle = Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
  const signer = new X509Certificate(Buffer.from(secret.data['ca-signer.crt'] ?? '', 'base64').toString('utf8')).fingerprint256;
  const vwc = JSON.parse(mustKubectl('admin', ['get', 'validatingwebhookconfiguration', NAME, '-o', 'json'])) as { webhooks: { clientConfig: { caBundle?: string } }[] };
  return { cas: (bundle.match(/BEGIN CERTIFICATE/g) ?? []).length, signer, vwcBundle: vwc.webhooks[0]?.clientConfig.caBundle ?? '', secretBundle: secret.data['ca.crt'] ?? '' };
}

function registerWebhook(ports: number[]): void {
  const generated = parse(execFileSync(process.execPath, [CLI, 'webhook-config', '--url', 'https://127.0.0.1:1/validate'], { encoding: 'utf8' })) as {
    metadata: { name: string };
    webhooks: Record<string, unknown>[];
  };
  const template = generated.webhooks[0] ?? {};
  generated.metadata.name = NAME;
  // One webhook per replica, so every request proves both replicas' certificates; only this test's namespace.
  generated.webhooks = ports.map((port, i) => ({
    ...template, name: `tls-${String(i)}.countersign.dev`, clientConfig: { url: `https://127.0.0.1:${String(port)}/validate` },
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': NAMESPACE } },
  }));
  mustKubectl('admin', ['apply', '-f', '-'], stringify(generated));
}

describe('self-managed TLS', () => {
  const replicas: Replica[] = [];

  beforeAll(async () => {
    kubectlAs('admin', ['delete', 'secret', NAME, '-n', 'countersign', '--ignore-not-found']);
    mustKubectl('admin', ['create', 'namespace', NAMESPACE]);
    mustKubectl('admin', ['label', 'namespace', NAMESPACE, 'environment=development']);
    const ports = [await freePort(), await freePort()];
    registerWebhook(ports);
    const config = writeConfig();
    for (const port of ports) replicas.push(await startSelfManaged(port, config));
  }, 150_000);

  afterAll(async () => {
    kubectlAs('admin', ['delete', 'validatingwebhookconfiguration', NAME, '--ignore-not-found']);
    for (const replica of replicas) await stopProcess(replica.pid);
    kubectlAs('admin', ['delete', 'namespace', NAMESPACE, '--wait=false']);
  });

  it('creates the Secret once, publishes its CA, and keeps an agent going through two CA rotations', async () => {
    await eventually('the caBundle published', 20_000, () => (sample().vwcBundle !== '' && sample().vwcBundle === sample().secretBundle ? true : undefined));
    const created = replicas.map((r) => (readFileSync(r.log, 'utf8').match(/created a new CA/g) ?? []).length);
    expect(created.reduce((a, b) => a + b, 0)).toBe(1);

    const started = Date.now();
    const failures: string[] = [];
    const samples: Sample[] = [];
    const served = replicas.map(() => new Set<string>());
    let requests = 0;
    // A 40 s CA is succeeded in its last third: promotions about 30 s and 57 s after the first was created. The
    // loop runs until the second successor has retired its predecessor (one CA in the bundle again), or 100 s.
    const secondRotationDone = (): boolean => new Set(samples.map((x) => x.signer)).size >= 3 && samples.at(-1)?.cas === 1;
    while (Date.now() - started < 100_000 && !secondRotationDone()) {
      const run = kubectlAs('coder', ['create', 'configmap', `cm-${String(requests)}`, '-n', NAMESPACE]);
      requests += 1;
      if (run.code !== 0) failures.push(run.stderr.trim());
      samples.push(sample());
      for (const [i, replica] of replicas.entries()) served[i]?.add(await servedFingerprint(replica.port));
      await sleep(300);
    }
    expect(failures).toEqual([]);
    expect(requests).toBeGreaterThan(20);
    // Both replicas judged every request (each webhook points at one of them).
    for (const replica of replicas) {
      const decisions = readFileSync(replica.log, 'utf8').split('\n').filter((l) => l.includes('"msg":"decision"') && l.includes(`"namespace":"${NAMESPACE}"`));
      expect(decisions.length).toBeGreaterThanOrEqual(requests);
    }
    const signers = new Set(samples.map((s) => s.signer));
    expect(signers.size).toBeGreaterThanOrEqual(3);
    expect(Math.max(...samples.map((s) => s.cas))).toBe(2);
    expect(samples.at(-1)?.cas).toBeLessThanOrEqual(2);
    // Hot reload: the same processes presented several certificates.
    for (const [i, replica] of replicas.entries()) {
      expect(served[i]?.size).toBeGreaterThanOrEqual(3);
      expect(() => { process.kill(replica.pid, 0); }).not.toThrow();
    }
    const steps = replicas.flatMap((r) => [...readFileSync(r.log, 'utf8').matchAll(/"step":"([a-z-]+)"/g)].map((m) => m[1]));
    expect(steps).toEqual(expect.arrayContaining(['ca-added', 'ca-promoted', 'ca-retired', 'serving-issued']));
    expect(steps.filter((s) => s === 'created')).toHaveLength(1);
  }, 150_000);

  it('a restarted replica adopts the stored certificate instead of minting one', async () => {
    const [first, second] = replicas;
    if (first === undefined || second === undefined) throw new Error('replicas missing');
    await stopProcess(first.pid);
    const before = (readFileSync(first.log, 'utf8').match(/created a new CA/g) ?? []).length;
    replicas[0] = await startSelfManaged(first.port, join(E2E_DIR, 'tls-e2e-config.yaml'));
    expect((readFileSync(first.log, 'utf8').match(/created a new CA/g) ?? []).length).toBe(before);
    const run = kubectlAs('coder', ['create', 'configmap', 'after-restart', '-n', NAMESPACE]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  }, 90_000);
});
