// The plugin's view of the cluster: the guard's requests and the humans' approvals, read as written, and who "I" am.
import { AuthenticationV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { retryTransient } from '../cluster/retry.js';
export { apiErrorMessage } from '../cluster/api-error.js';
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

export function pluginClient(connection: Connection): PluginClient {
  const kc = new KubeConfig();
  if (connection.kubeconfig !== undefined) kc.loadFromFile(connection.kubeconfig);
  else kc.loadFromDefault();
  if (connection.context !== undefined) kc.setCurrentContext(connection.context);
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
