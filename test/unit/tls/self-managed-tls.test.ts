// Self-managed TLS: the certificates Countersign mints, the rotation plan over simulated years, and the
// replicas' race through the Secret. The real apiserver's verdict on the certificates is in test/e2e/tls.test.ts.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseServeArgs, UsageError } from '../../../src/cli/args.js';
import { loadConfigText } from '../../../src/config/load.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { LiveBundle, TlsStore } from '../../../src/tls/kube-tls-store.js';
import { planTls, type TlsSettings, type TlsState } from '../../../src/tls/rotation-plan.js';
import { startSelfManagedTls, syncTls } from '../../../src/tls/self-managed-tls.js';
import { secretFromState, stateFromSecret } from '../../../src/tls/tls-secret.js';
import { createCa, hostsOf, issueServing, splitPem } from '../../../src/tls/x509.js';

const HOSTS = ['countersign.countersign.svc', 'countersign.countersign', '127.0.0.1'];
const T0 = new Date('2026-11-21T10:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

function chainsTo(serving: string, bundle: string, now: Date): boolean {
  const leaf = new X509Certificate(serving);
  const alive = Date.parse(leaf.validFrom) <= now.getTime() && now.getTime() < Date.parse(leaf.validTo);
  const caAlive = (ca: X509Certificate): boolean => Date.parse(ca.validFrom) <= now.getTime() && now.getTime() < Date.parse(ca.validTo);
  return alive && splitPem(bundle).some((ca) => caAlive(ca) && leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
}

describe('minted certificates', () => {
  it('a CA and a serving certificate that openssl verifies for TLS serving, naming DNS and IP hosts', () => {
    const ca = createCa('countersign-webhook-ca', T0, 3600);
    const serving = issueServing(ca, HOSTS, T0, 600);
    const dir = mkdtempSync(join(tmpdir(), 'countersign-x509-'));
    writeFileSync(join(dir, 'ca.pem'), ca.cert);
    writeFileSync(join(dir, 'leaf.pem'), serving.cert);
    const verified = execFileSync('openssl', ['verify', '-attime', String(T0.getTime() / 1000 + 10), '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    expect(verified.trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
    const text = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-text'], { encoding: 'utf8' });
    expect(text).toContain('CA:FALSE');
    expect(text).toContain('TLS Web Server Authentication');
    const leaf = new X509Certificate(serving.cert);
    expect(hostsOf(leaf)).toEqual(HOSTS);
    expect(new X509Certificate(ca.cert).ca).toBe(true);
    expect(leaf.ca).toBe(false);
  });

  it('never outlives its CA, and encodes dates from 2050 on as GeneralizedTime', () => {
    const ca = createCa('ca', at(0), 100);
    const serving = new X509Certificate(issueServing(ca, HOSTS, at(0), 10_000).cert);
    expect(serving.validTo).toBe(new X509Certificate(ca.cert).validTo);
    const later = new X509Certificate(createCa('ca', new Date('2060-01-01T00:00:00Z'), 3600).cert);
    expect(Date.parse(later.validTo)).toBe(Date.parse('2060-01-01T01:00:00Z'));
  });
});

const SETTINGS: TlsSettings = { hosts: HOSTS, caValiditySeconds: 900, certValiditySeconds: 120, propagationSeconds: 20 };

describe('the rotation plan', () => {
  it('starts from nothing with a CA, a bundle of that CA and a serving certificate from it', () => {
    const plan = planTls({ bundle: '' }, T0, SETTINGS);
    expect(plan.steps.map((s) => s.kind)).toEqual(['created']);
    const { signer, serving, bundle } = plan.state;
    expect(signer).toBeDefined();
    expect(serving).toBeDefined();
    expect(splitPem(bundle)).toHaveLength(1);
    expect(chainsTo(serving?.cert ?? '', bundle, T0)).toBe(true);
    expect(planTls(plan.state, at(1), SETTINGS).steps).toEqual([]);
  });

  // The apiserver trusts what was published a second ago. One replica plans every second (it wins every race) with
  // a clock 90 s ahead of the apiserver's; the others only re-read the Secret every `check` seconds, as the config
  // promises (checkInterval < propagation). Over three CA lifetimes no replica may ever serve a certificate the
  // apiserver's bundle does not vouch for (by its own clock), and the CA must really have rotated.
  it('rotates CAs and serving certificates for three CA lifetimes without a moment of distrust, with a fast clock', () => {
    const check = 5;
    const skewMs = 90_000;
    const leaderNow = (t: number): Date => new Date(at(t).getTime() + skewMs);
    let state = planTls({ bundle: '' }, leaderNow(0), SETTINGS).state;
    let published = [state.bundle, state.bundle];
    const first = state.serving?.cert ?? '';
    const readers = [{ offset: 1, serving: first }, { offset: 4, serving: first }];
    const signers = new Set<string>();
    const kinds: string[] = [];
    let mostCas = 1;
    for (let t = 1; t <= 3 * SETTINGS.caValiditySeconds; t += 1) {
      const apiserverNow = at(t);
      const plan = planTls(state, leaderNow(t), SETTINGS, published[1] === state.bundle);
      state = plan.state;
      kinds.push(...plan.steps.map((s) => s.kind));
      published = [published[1] ?? '', state.bundle];
      const trusted = published[0] ?? '';
      expect({ t, leader: chainsTo(state.serving?.cert ?? '', trusted, apiserverNow) }).toEqual({ t, leader: true });
      for (const reader of readers) {
        if ((t + reader.offset) % check === 0) reader.serving = state.serving?.cert ?? '';
        expect({ t, reader: reader.offset, trusted: chainsTo(reader.serving, trusted, apiserverNow) }).toEqual({ t, reader: reader.offset, trusted: true });
      }
      signers.add(new X509Certificate(state.signer?.cert ?? '').fingerprint256);
      mostCas = Math.max(mostCas, splitPem(trusted).length);
    }
    expect(signers.size).toBeGreaterThanOrEqual(3);
    expect(mostCas).toBe(2);
    expect(kinds).toEqual(expect.arrayContaining(['ca-added', 'ca-promoted', 'ca-retired', 'serving-issued']));
    expect(kinds).not.toContain('created');
    expect(splitPem(state.bundle).length).toBeLessThanOrEqual(2);
  });

  it('takes no step that needs the new bundle while the webhook configuration does not hold it, and does not churn meanwhile', () => {
    const start = planTls({ bundle: '' }, T0, SETTINGS).state;
    const dueAt = at(SETTINGS.caValiditySeconds * 0.7);
    const added = planTls(start, dueAt, SETTINGS, true);
    // The first serving certificate has expired by now: renewed from the old CA, which still signs.
    expect(added.steps.map((s) => s.kind)).toEqual(['ca-added', 'serving-issued']);
    const later = new Date(dueAt.getTime() + 2 * SETTINGS.propagationSeconds * 1000);
    expect(planTls(added.state, later, SETTINGS, false).steps).toEqual([]);
    expect(planTls(added.state, later, SETTINGS, true).steps.map((s) => s.kind)).toEqual(['ca-promoted', 'serving-issued']);
    // Stuck unpublished near the old CA's end: the serving certificate, capped at the CA's expiry, is renewed once,
    // not on every pass.
    let state = added.state;
    const renewals: number[] = [];
    for (let t = SETTINGS.caValiditySeconds * 0.7; t < SETTINGS.caValiditySeconds - 1; t += 1) {
      const plan = planTls(state, at(t), SETTINGS, false);
      if (plan.steps.some((s) => s.kind === 'serving-issued')) renewals.push(t);
      state = plan.state;
    }
    expect(renewals.length).toBeLessThanOrEqual(3);
  });

  it('repairs what it finds wrong: an expired CA, a bundle without the signer, other hosts, a damaged next CA, a future date', () => {
    const start = planTls({ bundle: '' }, T0, SETTINGS).state;
    expect(planTls(start, at(SETTINGS.caValiditySeconds + 120), SETTINGS).steps.map((s) => s.kind)).toEqual(['created']);
    const stranger = createCa('someone-else', T0, 900).cert;
    const repaired = planTls({ ...start, bundle: stranger }, at(5), SETTINGS);
    // The signer goes into the bundle; what is served keeps being served until the apiserver has heard of it.
    expect(repaired.steps.map((s) => s.kind)).toEqual(['bundle-repaired']);
    expect(splitPem(repaired.state.bundle)).toHaveLength(2);
    expect(repaired.state.changedAt).toEqual(at(5));
    const moved = planTls(start, at(5), { ...SETTINGS, hosts: ['countersign.other.svc'] });
    expect(moved.steps.map((s) => s.text)).toEqual(['issued a serving certificate (the serving certificate does not name every host)']);
    expect(planTls(start, at(5), { ...SETTINGS, hosts: HOSTS.slice(0, 1) }).steps).toEqual([]);
    const damaged = planTls({ ...start, next: { cert: 'not a certificate', key: 'nor a key' } }, at(5), SETTINGS);
    expect(damaged.state.next).toBeUndefined();
    const wrongKey = planTls({ ...start, serving: { cert: start.serving?.cert ?? '', key: createCa('x', T0, 60).key } }, at(5), SETTINGS);
    expect(wrongKey.steps.map((s) => s.text)).toEqual(['issued a serving certificate (no usable serving certificate)']);
    const future = planTls({ ...start, changedAt: new Date('2030-01-01T00:00:00Z') }, at(5), SETTINGS);
    expect(future.steps.map((s) => s.kind)).toEqual(['clock-repaired']);
    expect(future.state.changedAt).toEqual(at(5));
  });

  // A signer lost or mangled while its serving certificate is still trusted: replaced through the usual steps.
  it('replaces a lost signer without ever serving what the apiserver does not trust', () => {
    const start = planTls({ bundle: '' }, T0, SETTINGS).state;
    const mangled = { ...start, signer: { cert: start.signer?.cert ?? '', key: createCa('x', T0, 60).key } };
    const added = planTls(mangled, at(10), SETTINGS);
    expect(added.steps.map((s) => s.kind)).toEqual(['ca-added']);
    expect(added.state.serving).toEqual(start.serving);
    expect(added.state.signer).toBeUndefined();
    expect(splitPem(added.state.bundle)).toHaveLength(2);
    expect(planTls(added.state, at(12), SETTINGS).steps).toEqual([]);
    const promoted = planTls(added.state, at(10 + SETTINGS.propagationSeconds), SETTINGS);
    expect(promoted.steps.map((s) => s.kind)).toEqual(['ca-promoted', 'serving-issued']);
    expect(chainsTo(promoted.state.serving?.cert ?? '', added.state.bundle, at(10 + SETTINGS.propagationSeconds))).toBe(true);
    const retired = planTls(promoted.state, at(10 + 2 * SETTINGS.propagationSeconds), SETTINGS);
    expect(retired.steps.map((s) => s.kind)).toEqual(['ca-retired']);
    // A Secret gone entirely (seeded with what the webhook configuration trusts): the old CA stays trusted.
    const fromLive = planTls({ bundle: start.bundle }, at(10), SETTINGS);
    expect(fromLive.steps.map((s) => s.kind)).toEqual(['created']);
    expect(chainsTo(start.serving?.cert ?? '', fromLive.state.bundle, at(10))).toBe(true);
    // The signer expired with a published successor waiting: the successor signs at once.
    const waiting = planTls(start, at(SETTINGS.caValiditySeconds * 0.7), SETTINGS).state;
    const expired = planTls(waiting, at(SETTINGS.caValiditySeconds + 1), SETTINGS);
    expect(expired.steps.map((s) => s.kind)).toEqual(['ca-promoted', 'serving-issued']);
  });

  it('round-trips through the Secret, the step timestamp included', () => {
    const plan = planTls(planTls({ bundle: '' }, T0, SETTINGS).state, at(SETTINGS.caValiditySeconds * 0.7), SETTINGS);
    const parts = secretFromState(plan.state);
    expect(Object.keys(parts.data).sort()).toEqual(['ca-next.crt', 'ca-next.key', 'ca-signer.crt', 'ca-signer.key', 'ca.crt', 'tls.crt', 'tls.key']);
    expect(stateFromSecret(parts)).toEqual(plan.state);
  });
});

interface MemoryTlsStore extends TlsStore {
  version: number;
  /** Every bundle published to the webhook configuration, in order. */
  published: string[];
  writes: number;
  interfere?: () => void;
  failLive?: boolean;
  failPublish?: boolean;
  put(state: TlsState): void;
}

/** A Secret and a webhook configuration in memory, with the apiserver's resourceVersion check. */
function memoryTlsStore(): MemoryTlsStore {
  let stored: TlsState | undefined;
  let live = '';
  const store: MemoryTlsStore = {
    version: 0, published: [], writes: 0,
    put(state) {
      stored = state;
      store.version += 1;
    },
    read() {
      return Promise.resolve(stored === undefined ? undefined : { state: stateFromSecret(secretFromState(stored)), version: String(store.version) });
    },
    write(state: TlsState, version: string | undefined) {
      const interfere = store.interfere;
      store.interfere = undefined;
      interfere?.();
      if ((stored === undefined) !== (version === undefined) || (version !== undefined && version !== String(store.version))) return Promise.resolve(false);
      store.put(state);
      store.writes += 1;
      return Promise.resolve(true);
    },
    liveBundle() {
      return store.failLive === true ? Promise.reject(new Error('503 from the apiserver')) : Promise.resolve({ bundle: live, version: String(store.published.length), webhooks: 1 });
    },
    publishBundle(bundle: string, read: LiveBundle) {
      if (read.version !== String(store.published.length)) return Promise.reject(new Error('test failed: the configuration changed since it was read'));
      if (store.failPublish === true) return Promise.reject(new Error('403: a policy engine said no'));
      live = bundle;
      store.published.push(bundle);
      return Promise.resolve();
    },
  };
  return store;
}

describe('replicas sharing the Secret', () => {
  const log = createLogger('silent');

  it('a replica that loses the race adopts the winner\'s certificate instead of minting its own', async () => {
    const store = memoryTlsStore();
    const rival = planTls({ bundle: '' }, T0, SETTINGS).state;
    // Another replica creates the Secret between this replica's read and write.
    store.interfere = () => { void store.write(rival, undefined); };
    const state = await syncTls({ store, settings: () => SETTINGS, now: () => T0, log });
    expect(state.serving?.cert).toBe(rival.serving?.cert);
    expect(store.writes).toBe(1);
    expect(store.published).toEqual([rival.bundle]);
  });

  it('two replicas on the same clock agree, and a second pass writes nothing', async () => {
    const store = memoryTlsStore();
    const deps = { store, settings: () => SETTINGS, now: () => T0, log };
    const [a, b] = await Promise.all([syncTls(deps), syncTls(deps)]);
    expect(a.serving?.cert).toBe(b.serving?.cert);
    const writes = store.writes;
    await syncTls(deps);
    expect(store.writes).toBe(writes);
  });

  it('renews the serving certificate while the webhook configuration cannot be read or written', async () => {
    const store = memoryTlsStore();
    let now = T0;
    const deps = { store, settings: () => SETTINGS, now: () => now, log };
    const first = await syncTls(deps);
    store.failLive = true;
    store.failPublish = true;
    now = at(SETTINGS.certValiditySeconds * 0.9);
    const renewed = await syncTls(deps);
    expect(renewed.serving?.cert).toContain('BEGIN CERTIFICATE');
    expect(renewed.serving?.cert).not.toBe(first.serving?.cert);
    expect(store.writes).toBe(2);
  });

  it('never publishes a bundle that does not vouch for the serving certificate (an emptied ca.crt)', async () => {
    const store = memoryTlsStore();
    const deps = { store, settings: () => SETTINGS, now: () => at(1), log };
    const start = await syncTls(deps);
    store.put({ ...start, bundle: '' });
    await syncTls(deps);
    expect(store.published.length).toBeGreaterThan(0);
    expect(store.published.every((bundle) => chainsTo(start.serving?.cert ?? '', bundle, at(1)))).toBe(true);
    expect(store.published.at(-1)).toBe(start.bundle);
  });

  it('hands a new pair to the server when it can take it, retries when it cannot, and reports when passes stop', async () => {
    const store = memoryTlsStore();
    let now = T0;
    const settings = (): TlsSettings => SETTINGS;
    let accept = false;
    const delivered: string[] = [];
    const running = await startSelfManagedTls({ store, settings, now: () => now, log }, () => 5, (pair) => {
      if (accept) delivered.push(pair.cert);
      return accept;
    });
    try {
      now = at(SETTINGS.certValiditySeconds * 0.9);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(delivered).toEqual([]);
      accept = true;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(delivered).toHaveLength(1);
      expect(delivered[0]).not.toBe(running.serving.cert);
      expect(running.healthy()).toBe(true);
      store.read = () => Promise.reject(new Error('the apiserver is unreachable'));
      now = at(SETTINGS.certValiditySeconds * 0.9 + SETTINGS.propagationSeconds + 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(running.healthy()).toBe(false);
    } finally {
      running.stop();
    }
  });
});

describe('self-managed TLS settings', () => {
  it('refuses rotation timing that cannot work, naming each field', () => {
    const result = loadConfigText('tls: {caValiditySeconds: 600, certValiditySeconds: 300, propagationSeconds: 60, checkIntervalSeconds: 60}\n', 'c.yaml');
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors).toEqual([
      'c.yaml: tls.checkIntervalSeconds: 60 must be at most half of tls.propagationSeconds (60)',
      'c.yaml: tls.caValiditySeconds: 600 is too short for tls.certValiditySeconds 300 and tls.propagationSeconds 60 (need certValiditySeconds/3 + 2 * propagationSeconds < caValiditySeconds/3)',
    ]);
    expect(loadConfigText('{}\n', 'c.yaml').ok).toBe(true);
  });

  it('takes --tls-secret with hosts and the webhook configuration, and lists what is missing', () => {
    expect(parseServeArgs(['--tls-secret', 'countersign-tls', '--tls-hosts', 'countersign.countersign.svc,127.0.0.1', '--webhook-configuration', 'countersign']).tls).toEqual({
      kind: 'self-managed', secretName: 'countersign-tls', hosts: ['countersign.countersign.svc', '127.0.0.1'], webhookConfiguration: 'countersign',
    });
    let problems: string[] = [];
    try {
      parseServeArgs(['--tls-secret', 's', '--tls-hosts', 'Bad_Host', '--tls-cert', '/etc/hostname']);
    } catch (error: unknown) {
      if (error instanceof UsageError) problems = error.problems;
    }
    expect(problems).toEqual([
      '--tls-secret: choose it or --tls-cert/--tls-key, not both',
      '--tls-hosts: "Bad_Host" is not a DNS name or an IPv4 address',
      '--webhook-configuration: required with --tls-secret (the ValidatingWebhookConfiguration whose caBundle Countersign keeps)',
    ]);
  });
});
