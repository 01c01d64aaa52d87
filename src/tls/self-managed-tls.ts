// Countersign as its own certificate authority: every replica reads the shared Secret, publishes its CA bundle to
// the webhook configuration, takes the next rotation step when one is due, and serves the stored pair. Replicas race
// through the Secret's resourceVersion, so exactly one writes each step and the rest adopt it.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { planTls, type TlsSettings, type TlsState } from './rotation-plan.js';
import type { PublishResult, TlsStore } from './kube-tls-store.js';
import type { TlsMetrics } from './tls-metrics.js';
import type { KeyPair } from './x509.js';

export interface SelfManagedTlsDeps {
  store: TlsStore;
  /** Read on every pass: the validity and propagation settings follow configuration reloads. */
  settings: () => TlsSettings;
  now: () => Date;
  log: Logger;
  metrics?: TlsMetrics;
}

const WRITE_ATTEMPTS = 3;

function observe(state: TlsState, metrics: TlsMetrics | undefined): void {
  if (metrics === undefined) return;
  for (const [certificate, pair] of [['serving', state.serving], ['ca', state.signer]] as const) {
    if (pair !== undefined) metrics.expiry.set({ certificate }, Date.parse(new X509Certificate(pair.cert).validTo) / 1000);
  }
}

async function publish(deps: SelfManagedTlsDeps, bundle: string): Promise<PublishResult> {
  const result = await deps.store.publishBundle(bundle);
  if (result === 'updated') deps.log.info('self-managed TLS: published the CA bundle to the webhook configuration');
  // Rotation waits while the bundle is not published; say so, since certificates keep ageing meanwhile.
  if (result === 'missing') deps.log.warn('self-managed TLS: the webhook configuration does not exist (yet); rotation waits for it');
  return result;
}

/** One pass: read, publish the stored bundle, plan, write the next step if any. Returns the state now stored. */
export async function syncTls(deps: SelfManagedTlsDeps): Promise<TlsState> {
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt += 1) {
    const stored = await deps.store.read();
    const published = stored === undefined ? 'missing' : await publish(deps, stored.state.bundle);
    const plan = planTls(stored?.state ?? { bundle: '' }, deps.now(), deps.settings(), published === 'unchanged');
    if (plan.steps.length === 0) {
      observe(plan.state, deps.metrics);
      return plan.state;
    }
    if (await deps.store.write(plan.state, stored?.version)) {
      for (const step of plan.steps) {
        deps.metrics?.steps.inc({ step: step.kind });
        deps.log.info({ step: step.kind }, `self-managed TLS: ${step.text}`);
      }
      await publish(deps, plan.state.bundle);
      observe(plan.state, deps.metrics);
      return plan.state;
    }
  }
  throw new Error(`another replica changed the TLS Secret ${String(WRITE_ATTEMPTS)} times while this one tried to`);
}

export interface RunningTls {
  serving: KeyPair;
  stop(): void;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function firstSync(deps: SelfManagedTlsDeps): Promise<KeyPair> {
  for (let delayMs = 500; ; delayMs = Math.min(delayMs * 2, 10_000)) {
    try {
      const { serving } = await syncTls(deps);
      if (serving !== undefined) return serving;
    } catch (error: unknown) {
      deps.metrics?.errors.inc();
      deps.log.warn({ error: errorText(error), retryInMs: delayMs }, 'self-managed TLS: no serving certificate yet; not listening until there is one');
    }
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

/**
 * Waits for a serving pair (retrying: without one there is nothing to listen with), then re-syncs every
 * `intervalMs`, handing a changed pair to `onServing` (a hot reload: connections in flight keep the old one).
 */
export async function startSelfManagedTls(deps: SelfManagedTlsDeps, intervalMs: () => number, onServing: (pair: KeyPair) => void): Promise<RunningTls> {
  let serving = await firstSync(deps);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async (): Promise<void> => {
    try {
      const state = await syncTls(deps);
      if (state.serving !== undefined && state.serving.cert !== serving.cert) {
        serving = state.serving;
        onServing(serving);
      }
    } catch (error: unknown) {
      deps.metrics?.errors.inc();
      deps.log.warn({ error: errorText(error) }, 'self-managed TLS: sync failed; serving the current certificate');
    }
    if (!stopped) timer = setTimeout(() => { void tick(); }, intervalMs());
  };
  timer = setTimeout(() => { void tick(); }, intervalMs());
  return {
    serving,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
