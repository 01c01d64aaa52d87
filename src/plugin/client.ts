// The plugin's view of the cluster: the guard's requests and the humans' approvals, read as written, and who "I" am.
import { AuthenticationV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/kubeconfig.js';
import { retryTransient } from '../kube/retry.js';
import { API_GROUP, API_VERSION, type ApprovalObject, type ApprovalRequestObject } from '../approvals/types.js';

export interface PluginClient {
  whoami(): Promise<string>;
  listRequests(): Promise<ApprovalRequestObject[]>;
  getRequest(name: string): Promise<ApprovalRequestObject>;
  listApprovals(): Promise<ApprovalObject[]>;
  createApproval(approval: ApprovalObject): Promise<void>;
}

export interface Connection {
  kubeconfig?: string;
  context?: string;
  countersignNamespace: string;
}

/** The human's kubeconfig, as kubectl would pick it: --kubeconfig or the default chain, then --context. */
export function pluginKubeConfig({ kubeconfig, context }: { kubeconfig?: string | undefined; context?: string | undefined }): KubeConfig {
  return loadKubeConfig(kubeconfig, context);
}

export function pluginClient(connection: Connection): PluginClient {
  const kc = pluginKubeConfig(connection);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const where = { group: API_GROUP, version: API_VERSION, namespace: connection.countersignNamespace };
  return {
    async whoami() {
      const review = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      });
      const name = review.status?.userInfo?.username;
      if (name === undefined) throw new Error('the apiserver did not say who you are (SelfSubjectReview)');
      return name;
    },
    async listRequests() {
      return ((await retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvalrequests' }))) as { items: ApprovalRequestObject[] }).items;
    },
    async getRequest(name) {
      return (await retryTransient(() => custom.getNamespacedCustomObject({ ...where, plural: 'approvalrequests', name }))) as ApprovalRequestObject;
    },
    async listApprovals() {
      return ((await retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvals' }))) as { items: ApprovalObject[] }).items;
    },
    async createApproval(approval) {
      await custom.createNamespacedCustomObject({ ...where, plural: 'approvals', body: approval });
    },
  };
}
