// `countersign serve`: wires configuration, the cluster picture, the app and the reloaders, and owns the socket.
import type { Server } from 'node:https';
import closeWithGrace from 'close-with-grace';
import type { Logger } from 'pino';
import type { NamespaceDirectory } from '../cluster/namespace-directory.js';
import { staticNamespaceDirectory } from '../cluster/namespace-directory.js';
import { readClusterSnapshot } from '../cluster/snapshot.js';
import { createIdentityPower, type IdentityPower } from '../cluster/identity-power.js';
import { kubePodIdentities, type PodIdentities } from '../cluster/pod-identity.js';
import { DEFAULT_CONFIG_URL, loadConfigFile } from '../config/load.js';
import { auditTrail } from '../audit/trail.js';
import { createLogger } from '../observability/logger.js';
import { createMetrics } from '../observability/metrics.js';
import { observeCluster } from '../observability/observe-cluster.js';
import { buildApp } from '../server/app.js';
import { reviewCapture } from '../server/capture.js';
import { watchFiles } from '../server/file-watch.js';
import { policyHolder } from '../server/policy-holder.js';
import { servingTls } from '../server/serving-tls.js';
import type { ServeSettings } from './args.js';
import type { GateDeps } from '../approvals/approval-gate.js';
import { signatureVerifier } from '../approvals/signatures.js';
import type { Config } from '../config/schema.js';
import type { ReviewDeps } from '../webhook/handle-review.js';
import { memoryActivityStore } from '../activity/activity-store.js';
import { staticPicture, type ClusterPicture } from '../picture/cluster-picture.js';
import { UsageError } from './args.js';
import { present } from '../kube/present.js';

interface ClusterEdges {
  namespaces: NamespaceDirectory;
  picture: ClusterPicture;
  activity: ReviewDeps['activity'];
  approvals?: GateDeps;
  /** What a workload's ServiceAccount and the agent may do; none from a snapshot (no apiserver to ask). */
  identities?: IdentityPower;
  pods?: PodIdentities;
}

async function clusterEdges(settings: ServeSettings, config: Config, log: Logger): Promise<ClusterEdges> {
  const now = (): Date => new Date();
  if (settings.cluster !== undefined) {
    const objects = await readClusterSnapshot(settings.cluster);
    return { namespaces: staticNamespaceDirectory(objects), picture: staticPicture(objects), activity: { store: memoryActivityStore(), now } };
  }
  // Loaded only when needed: client-node is heavy and unused for snapshot runs.
  const kube = await import('../cluster/kube-namespace-directory.js');
  const { loadKubeConfig } = await import('../kube/kubeconfig.js');
  const { kubeApprovalStore } = await import('../approvals/kube-store.js');
  const { kubePicture } = await import('../picture/kube-picture.js');
  const { kubeActivityStore } = await import('../activity/kube-activity-store.js');
  const { kubeSendReview } = await import('../cluster/kube-subject-access-review.js');
  const kc = loadKubeConfig(settings.kubeconfig);
  return {
    namespaces: kube.kubeNamespaceDirectory(kc, log),
    picture: kubePicture(kc, log, config.picture),
    activity: { store: kubeActivityStore(kc, config.countersignNamespace), now },
    identities: createIdentityPower({ send: kubeSendReview(kc) }),
    pods: kubePodIdentities(kc),
    approvals: {
      store: kubeApprovalStore(kc, { namespace: config.countersignNamespace, allowedSignersSecret: config.approvals.allowedSignersSecret }),
      verifySignature: signatureVerifier(config.approvals.signatureNamespace, now),
      now,
      // This process's own chain (replicas do not share one); its chain-start line is written now.
      audit: auditTrail(log, { now }),
    },
  };
}

/** Requests in flight get this long after SIGTERM (the chart's grace period is longer), then the process exits. */
const SHUTDOWN_DEADLINE_MS = 10_000;

export async function serve(settings: ServeSettings): Promise<void> {
  const log = createLogger(settings.logLevel);
  const metrics = createMetrics();
  const source = settings.config ?? DEFAULT_CONFIG_URL;
  const loaded = await loadConfigFile(source);
  if (!loaded.ok) throw new UsageError(['the configuration was refused:', ...loaded.errors]);
  metrics.policyLoads.inc({ result: 'ok' });
  if (loaded.warnings.length > 0) log.warn({ source: String(source), warnings: loaded.warnings }, 'the configuration uses deprecated fields');
  const policies = policyHolder(loaded.policy, source, log, metrics);
  const { namespaces, picture, activity, approvals, identities, pods } = await clusterEdges(settings, loaded.policy.config, log);
  const tls = await servingTls(settings.tls, {
    kubeconfig: settings.kubeconfig, config: () => policies.judge().policy.config, log, metrics, reloadIntervalMs: settings.reloadIntervalMs,
  });
  const app = buildApp(
    {
      judge: () => policies.judge(), namespaces, picture, log, metrics, ready: () => namespaces.isReady() && tls.ready(),
      ...present({ activity, approvals, identities, pods }),
      ...(settings.captureDir === undefined ? {} : { capture: reviewCapture(settings.captureDir, log) }),
    },
    tls.initial,
  );
  await app.listen({ host: settings.address, port: settings.port });
  const server = app.server as unknown as Server;
  const watchers = [tls.attach(server)];
  watchers.push(observeCluster(metrics, { picture, approvals, config: loaded.policy.config, log }));
  if (settings.config !== undefined) {
    // A refused configuration is reported once, not on every poll: the next change to the file is read again.
    watchers.push(watchFiles([settings.config], settings.reloadIntervalMs, async () => {
      await policies.reload();
      return true;
    }));
  }
  const address = server.address();
  log.info({ address, rules: loaded.policy.rules.length, config: String(source) }, 'countersign serving');

  // Signals, a second signal and a crash on the way out, and a deadline for requests that never finish, are
  // close-with-grace's (the Fastify project's); SIGHUP stays ours: it reloads the policy.
  closeWithGrace({ delay: SHUTDOWN_DEADLINE_MS, skip: ['SIGHUP'], logger: { error: (message: unknown) => { log.error({ message }, 'shutdown'); } } }, async ({ signal, err }) => {
    if (err !== undefined) log.error({ err }, 'unexpected error; shutting down');
    log.info({ signal }, 'shutting down; finishing requests in flight');
    for (const watcher of watchers) watcher.stop();
    await app.close();
    await Promise.all([namespaces.close(), picture.close()]);
  });
  process.on('SIGHUP', () => { void policies.reload(); });
}
