// The serving certificate, from files (cert-manager, Helm, an admin) polled for changes, or self-managed through the
// cluster. Either way a new pair reaches the running server without a restart.
import type { Server } from 'node:https';
import type { Logger } from 'pino';
import type { TlsSource } from '../cli/args.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../observability/metrics.js';
import type { KeyPair as PemPair } from './app.js';
import type { TlsSettings } from '../tls/rotation-plan.js';
import type { KeyPair } from '../tls/x509.js';
import { watchFiles } from './file-watch.js';
import { readKeyPair, reloadTls } from './tls-reloader.js';

export interface ServingTls {
  initial: PemPair;
  /** Starts delivering new pairs to the listening server. */
  attach(server: Server): { stop(): void };
}

export interface ServingTlsDeps {
  kubeconfig: string | undefined;
  /** The serving configuration (it changes on reload): namespace and rotation timing. */
  config: () => Config;
  log: Logger;
  metrics: Metrics;
  reloadIntervalMs: number;
}

async function selfManaged(source: Extract<TlsSource, { kind: 'self-managed' }>, deps: ServingTlsDeps): Promise<ServingTls> {
  // Loaded only when needed, like the other cluster edges.
  const { loadKubeConfig } = await import('../cluster/kube-namespace-directory.js');
  const { kubeTlsStore } = await import('../tls/kube-tls-store.js');
  const { startSelfManagedTls } = await import('../tls/self-managed-tls.js');
  const { tlsMetrics } = await import('../tls/tls-metrics.js');
  const store = kubeTlsStore(loadKubeConfig(deps.kubeconfig), {
    namespace: deps.config().countersignNamespace, secretName: source.secretName, webhookConfiguration: source.webhookConfiguration,
    owner: deps.config().approvals.serviceAccount,
  });
  let server: Server | undefined;
  const onServing = (pair: KeyPair): void => {
    server?.setSecureContext(pair);
    deps.metrics.tlsReloads.inc({ result: 'ok' });
    deps.log.info({ secret: source.secretName }, 'serving certificate reloaded');
  };
  const settings = (): TlsSettings => ({ ...deps.config().tls, hosts: source.hosts });
  const running = await startSelfManagedTls(
    { store, settings, now: () => new Date(), log: deps.log, metrics: tlsMetrics(deps.metrics.registry) },
    () => deps.config().tls.checkIntervalSeconds * 1000,
    onServing,
  );
  return {
    initial: running.serving,
    attach(listening) {
      server = listening;
      return { stop: () => { running.stop(); } };
    },
  };
}

export async function servingTls(source: TlsSource, deps: ServingTlsDeps): Promise<ServingTls> {
  if (source.kind === 'self-managed') return selfManaged(source, deps);
  const files = { certFile: source.certFile, keyFile: source.keyFile };
  return {
    initial: await readKeyPair(files),
    attach: (server) => watchFiles([files.certFile, files.keyFile], deps.reloadIntervalMs, () => reloadTls(server, files, deps.log, deps.metrics)),
  };
}
