// Countersign as its own certificate authority: every replica reads the shared Secret, checks what the webhook
// configuration trusts, takes the next rotation step when one is due, publishes the bundle, and serves the stored
// pair. Replicas race through the Secret's resourceVersion, so exactly one writes each step and the rest adopt it.
import { X509Certificate } from 'node:crypto';
import type { Logger } from 'pino';
import { planTls, type TlsSettings, type TlsState, type TlsStep } from './rotation-plan.js';
import type { LiveBundle, TlsStore } from './kube-tls-store.js';
import type { TlsMetrics } from './tls-metrics.js';
import { splitPem, toPem, type KeyPair } from './x509.js';

export interface SelfManagedTlsDeps {
  store: TlsStore;
  /** Read on every pass: the validity and propagation settings follow configuration reloads. */
  settings: () => TlsSettings;
  now: () => Date;
  log: Logger;
  metrics?: TlsMetrics;
}

const WRITE_ATTEMPTS = 3;

const samePem = (a: string, b: string): boolean => toPem(splitPem(a)) === toPem(splitPem(b));
const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Whether `bundle` vouches for the serving certificate: a bundle that does not is never published. */
function vouches(state: TlsState): boolean {
  if (state.serving === undefined) return false;
  const serving = new X509Certificate(state.serving.cert);
  return splitPem(state.bundle).some((ca) => serving.checkIssued(ca) && serving.verify(ca.publicKey));
}

/** What the webhook configuration holds; undefined when it is missing or unreadable (then no step relies on it). */
async function readLive(deps: SelfManagedTlsDeps): Promise<LiveBundle | undefined> {
  try {
    const live = await deps.store.liveBundle();
    if (live === undefined) deps.log.warn('self-managed TLS: the webhook configuration does not exist (yet); rotation waits for it');
    return live;
  } catch (error: unknown) {
    deps.log.warn({ error: errorText(error) }, 'self-managed TLS: cannot read the webhook configuration; rotation waits, renewal goes on');
    return undefined;
  }
}

async function publish(deps: SelfManagedTlsDeps, state: TlsState, live: LiveBundle): Promise<boolean> {
  if (!vouches(state)) {
    deps.log.error('self-managed TLS: the planned CA bundle does not vouch for the serving certificate; not publishing it');
    return false;
  }
  try {
    await deps.store.publishBundle(state.bundle, live);
    deps.log.info({ cas: splitPem(state.bundle).length }, 'self-managed TLS: published the CA bundle to the webhook configuration');
    return true;
  } catch (error: unknown) {
    deps.log.warn({ error: errorText(error) }, 'self-managed TLS: could not publish the CA bundle; trying again next pass');
    return false;
  }
}

/** Makes the webhook configuration hold the planned bundle, when it could be read and does not already. */
async function settleBundle(deps: SelfManagedTlsDeps, live: LiveBundle | undefined, state: TlsState): Promise<void> {
  const published = live !== undefined && (samePem(live.bundle, state.bundle) || (await publish(deps, state, live)));
  deps.metrics?.bundlePublished.set(published ? 1 : 0);
  if (state.signer !== undefined) deps.metrics?.expiry.set({ certificate: 'ca' }, Date.parse(new X509Certificate(state.signer.cert).validTo) / 1000);
}

function recordSteps(deps: SelfManagedTlsDeps, steps: readonly TlsStep[]): void {
  for (const step of steps) {
    deps.metrics?.steps.inc({ step: step.kind });
    deps.log.info({ step: step.kind }, `self-managed TLS: ${step.text}`);
  }
}

/** One pass: read, see what the apiserver trusts, plan, write the next step if any, publish. Returns the state now stored. */
export async function syncTls(deps: SelfManagedTlsDeps): Promise<TlsState> {
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt += 1) {
    const stored = await deps.store.read();
    const live = await readLive(deps);
    const published = stored !== undefined && live !== undefined && stored.state.bundle !== '' && samePem(live.bundle, stored.state.bundle);
    // No Secret (first start, or deleted): start from what the apiserver trusts, so replicas still serving a
    // certificate from it stay trusted while the new CA takes over.
    const plan = planTls(stored?.state ?? { bundle: live?.bundle ?? '' }, deps.now(), deps.settings(), published);
    if (plan.steps.length > 0) {
      if (!(await deps.store.write(plan.state, stored?.version))) continue;
      recordSteps(deps, plan.steps);
    }
    await settleBundle(deps, live, plan.state);
    return plan.state;
  }
  throw new Error(`another replica changed the TLS Secret ${String(WRITE_ATTEMPTS)} times while this one tried to`);
}

export interface RunningTls {
  serving: KeyPair;
  /** False once no pass has succeeded for a propagation time: a rotation may have left this replica untrusted. */
  healthy(): boolean;
  stop(): void;
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
 * `onServing` answers whether the pair reached the server; one that did not is offered again on the next pass.
 */
export async function startSelfManagedTls(deps: SelfManagedTlsDeps, intervalMs: () => number, onServing: (pair: KeyPair) => boolean): Promise<RunningTls> {
  let served = await firstSync(deps);
  let lastSuccess = deps.now().getTime();
  const observeServed = (): void => { deps.metrics?.expiry.set({ certificate: 'serving' }, Date.parse(new X509Certificate(served.cert).validTo) / 1000); };
  observeServed();
  deps.metrics?.lastSuccess.set(lastSuccess / 1000);
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = async (): Promise<void> => {
    try {
      const state = await syncTls(deps);
      lastSuccess = deps.now().getTime();
      deps.metrics?.lastSuccess.set(lastSuccess / 1000);
      if (state.serving !== undefined && state.serving.cert !== served.cert && onServing(state.serving)) {
        served = state.serving;
        observeServed();
      }
    } catch (error: unknown) {
      deps.metrics?.errors.inc();
      deps.log.warn({ error: errorText(error) }, 'self-managed TLS: sync failed; serving the current certificate');
    }
    if (!stopped) timer = setTimeout(() => { void tick(); }, intervalMs());
  };
  timer = setTimeout(() => { void tick(); }, intervalMs());
  return {
    serving: served,
    healthy: () => deps.now().getTime() - lastSuccess < deps.settings().propagationSeconds * 1000,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
