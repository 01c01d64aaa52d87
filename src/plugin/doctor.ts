// kubectl countersign doctor: reads the cluster's RBAC and reports the rights by which an agent could defeat the
// guard or escalate past it. The judgement is pure (doctor-analysis.ts); this file only reads and prints.
import https from 'node:https';
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { retryTransient } from '../kube/retry.js';
import type { Config } from '../config/schema.js';
import { diagnose } from '../rbac/index.js';
import { protectionFromMetrics, protectionText, type Protection } from './doctor-protection.js';
import { renderDoctor } from './doctor-report.js';
import { render } from './format.js';
import type { OutputFormat } from './format.js';
import type { RbacObjects } from '../rbac/index.js';
import { pluginKubeConfig } from './client.js';

export interface DoctorOptions {
  config: Config;
  /** Overrides the configuration's countersignNamespace. */
  countersignNamespace?: string;
  kubeconfig?: string;
  context?: string;
  output: OutputFormat;
}

export interface DoctorResult {
  text: string;
  /** Some agent holds a dangerous right: doctor exits 1, so CI fails. */
  flagged: boolean;
}

/** Everything RBAC says, read at once: the reader needs list on these five resources cluster-wide. */
export async function readRbac(kc: KubeConfig): Promise<RbacObjects> {
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const [clusterRoles, roles, clusterRoleBindings, roleBindings, serviceAccounts] = await Promise.all([
    retryTransient(() => rbac.listClusterRole()),
    retryTransient(() => rbac.listRoleForAllNamespaces()),
    retryTransient(() => rbac.listClusterRoleBinding()),
    retryTransient(() => rbac.listRoleBindingForAllNamespaces()),
    retryTransient(() => core.listServiceAccountForAllNamespaces()),
  ]);
  return {
    clusterRoles: clusterRoles.items, roles: roles.items, clusterRoleBindings: clusterRoleBindings.items,
    roleBindings: roleBindings.items, serviceAccounts: serviceAccounts.items,
  };
}

/** The apiserver's metrics, the only place static admission manifests show (needs get on the /metrics URL). */
export async function readProtection(kc: KubeConfig): Promise<Protection> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) return protectionFromMetrics({ unreadable: 'no current cluster in the kubeconfig' });
  try {
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = https.get(new URL('/metrics', cluster.server), { ...options, timeout: 10_000 }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => { body += chunk; });
        response.on('end', () => { resolve({ status: response.statusCode ?? 0, body }); });
        response.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error('timed out after 10 s')));
      request.on('error', reject);
    });
    return protectionFromMetrics(status === 200 ? body : { unreadable: `HTTP ${status}` });
  } catch (error: unknown) {
    return protectionFromMetrics({ unreadable: error instanceof Error ? error.message : String(error) });
  }
}

export async function doctor(options: DoctorOptions): Promise<DoctorResult> {
  const kc = pluginKubeConfig(options);
  const [rbac, protection] = await Promise.all([readRbac(kc), readProtection(kc)]);
  const report = diagnose({
    rbac, agents: options.config.agents, countersignNamespace: options.countersignNamespace ?? options.config.countersignNamespace,
  });
  // Protection is reported, never flagged: doctor cannot verify the static manifests' content either way. It is a
  // fact about the cluster, so it comes first; the agents' summary stays the last line.
  const text = render(options.output, { ...report, protection }, () => `${protectionText(protection)}\n${renderDoctor(report, 'table')}`);
  return { text, flagged: report.summary.findings > 0 };
}
