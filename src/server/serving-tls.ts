// The serving certificate, from files (cert-manager, Helm, an admin) polled for changes, or self-managed through the
// cluster. Either way a new pair reaches the running server without a restart.
import { X509Certificate } from 'node:crypto';
import type { Server } from 'node:https';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { TlsSettings } from '../tls/rotation-plan.js';
import { tlsMetrics, type TlsMetrics } from '../tls/tls-metrics.js';
import type { KeyPair } from '../tls/x509.js';
import { watchFiles } from './file-watch.js';
import { readKeyPair, reloadTls } from './tls-reloader.js';

/** Where the serving certificate comes from: files a cert-manager (or similar) keeps fresh, or Countersign itself. */
export type TlsSource =
  | { kind: 'files'; certFile: string; keyFile: string }
  | { kind: 'self-managed'; secretName: string; hosts: string[]; webhookConfiguration: string };

export interface ServingTls {
  initial: KeyPair;
  /** Starts delivering new pairs to the listening server. */
  attach(server: Server): { stop(): void };
  /** False while this replica may be serving a certificate the apiserver no longer trusts. */
  ready(): boolean;
}

export interface ServingTlsDeps {
  kubeconfig: string | undefined;
  /** The serving configuration (it changes on reload): namespace and rotation timing. */
  config: () => Config;
  log: Logger;
  metrics: Metrics;
  reloadIntervalMs: number;
}

function observeExpiry(metrics: TlsMetrics, cert: string | Buffer): void {
  try {
    metrics.expiry.set({ certificate: 'serving' }, Date.parse(new X509Certificate(cert).validTo) / 1000);
  } catch {
    // Not a certificate Node can read: the TLS handshake would say so first.
  }
}

async function selfManaged(source: Extract<TlsSource, { kind: 'self-managed' }>, deps: ServingTlsDeps, metrics: TlsMetrics): Promise<ServingTls> {
  // Loaded only when needed, like the other cluster edges.
  const { loadKubeConfig } = await import('../kube/kubeconfig.js');
  const { kubeTlsStore } = await import('../tls/kube-tls-store.js');
  const { startSelfManagedTls } = await import('../tls/self-managed-tls.js');
  const store = kubeTlsStore(loadKubeConfig(deps.kubeconfig), {
    namespace: deps.config().countersignNamespace, secretName: source.secretName, webhookConfiguration: source.webhookConfiguration,
    owner: deps.config().approvals.serviceAccount,
  });
  let server: Server | undefined;
  const onServing = (pair: KeyPair): boolean => {
    if (server === undefined) return false;
    try {
      server.setSecureContext(pair);
    } catch (error: unknown) {
      deps.metrics.tlsReloads.inc({ result: 'error' });
      deps.log.warn({ err: error, secret: source.secretName }, 'serving certificate not reloaded; keeping the current one');
      return false;
    }
    deps.metrics.tlsReloads.inc({ result: 'ok' });
    deps.log.info({ secret: source.secretName }, 'serving certificate reloaded');
    return true;
  };
  const settings = (): TlsSettings => ({ ...deps.config().tls, hosts: source.hosts });
  const running = await startSelfManagedTls(
    { store, settings, now: () => new Date(), log: deps.log, metrics },
    () => deps.config().tls.checkIntervalSeconds * 1000,
    onServing,
  );
  return {
    initial: running.serving,
    attach(listening) {
      server = listening;
      return { stop: () => { running.stop(); } };
    },
    ready: () => running.healthy(),
  };
}

export async function servingTls(source: TlsSource, deps: ServingTlsDeps): Promise<ServingTls> {
  const metrics = tlsMetrics(deps.metrics.registry);
  if (source.kind === 'self-managed') return selfManaged(source, deps, metrics);
  const files = { certFile: source.certFile, keyFile: source.keyFile };
  const initial = await readKeyPair(files);
  observeExpiry(metrics, initial.cert);
  return {
    initial,
    attach: (server) => watchFiles([files.certFile, files.keyFile], deps.reloadIntervalMs, async () => {
      const reloaded = await reloadTls(server, files, deps.log, deps.metrics);
      if (reloaded !== undefined) observeExpiry(metrics, reloaded.cert);
      return reloaded !== undefined;
    }),
    ready: () => true,
  };
}
