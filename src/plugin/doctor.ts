// kubectl countersign doctor: reads the cluster's RBAC and reports the rights by which an agent could defeat the
// guard or escalate past it. The judgement is pure (doctor-analysis.ts); this file only reads and prints.
import { CoreV1Api, RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { retryTransient } from '../cluster/retry.js';
import type { Config } from '../config/schema.js';
import { diagnose } from './doctor-analysis.js';
import { renderDoctor } from './doctor-report.js';
import type { OutputFormat } from './format.js';
import type { RbacObjects } from './rbac-rights.js';
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

export async function doctor(options: DoctorOptions): Promise<DoctorResult> {
  const rbac = await readRbac(pluginKubeConfig(options));
  const report = diagnose({
    rbac, agents: options.config.agents, countersignNamespace: options.countersignNamespace ?? options.config.countersignNamespace,
  });
  return { text: renderDoctor(report, options.output), flagged: report.summary.findings > 0 };
}
