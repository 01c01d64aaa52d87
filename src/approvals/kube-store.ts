// The approval store on the Kubernetes API: requests and approvals in Countersign's namespace, consumption by a
// compare-and-swap on the approval's resourceVersion, "who may approve" by SubjectAccessReview.
import { orUndefinedOn404, statusCode } from '../kube/api-error.js';
import { parseServiceAccount } from '../core/requester.js';
import { AuthorizationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { UserInfo } from '../kube/types.js';
import { retryTransient } from '../kube/retry.js';
import { anchorAnnotations } from '../audit/chain.js';
import type { ApprovalStore } from './store.js';
import { API_GROUP, API_VERSION, OWNER_ANNOTATION, QUOTA_LABEL, REQUESTER_LABEL, requesterLabelValue, type ApprovalObject, type ApprovalRequestObject, type RequestPhase } from './types.js';
import { present } from '../kube/present.js';

export interface KubeStoreSettings {
  namespace: string;
  allowedSignersSecret: string;
}

export function kubeApprovalStore(kc: KubeConfig, settings: KubeStoreSettings): ApprovalStore {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const where = { group: API_GROUP, version: API_VERSION, namespace: settings.namespace };
  /** Writes an Approval's status if it is unchanged since read (its resourceVersion rides along): false if it lost. */
  const swapStatus = async (approval: ApprovalObject, status: ApprovalObject['status']): Promise<boolean> => {
    try {
      await custom.replaceNamespacedCustomObjectStatus({ ...where, plural: 'approvals', name: approval.metadata.name, body: { ...approval, status } });
      return true;
    } catch (error: unknown) {
      if (statusCode(error) === 409) return false;
      throw error;
    }
  };
  return {
    async getRequest(name) {
      return (await orUndefinedOn404(retryTransient(() => custom.getNamespacedCustomObject({ ...where, plural: 'approvalrequests', name })))) as ApprovalRequestObject | undefined;
    },
    async createRequest(request) {
      try {
        await custom.createNamespacedCustomObject({ ...where, plural: 'approvalrequests', body: request });
      } catch (error: unknown) {
        if (statusCode(error) !== 409) throw error;
      }
    },
    async deleteRequest(name) {
      await orUndefinedOn404(custom.deleteNamespacedCustomObject({ ...where, plural: 'approvalrequests', name }));
    },
    async listRequestsOf(username) {
      const labelSelector = `${REQUESTER_LABEL}=${requesterLabelValue(username)}`;
      const list = (await retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvalrequests', labelSelector }))) as { items: ApprovalRequestObject[] };
      return list.items;
    },
    async listApprovals(requestName) {
      // spec.requestName is a selectable field of the CRD: the apiserver filters, labels (user-set) are not trusted.
      const list = (await retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvals', fieldSelector: `spec.requestName=${requestName}` }))) as { items: ApprovalObject[] };
      return list.items;
    },
    markUsed: (approval, usedFor, at) => swapStatus(approval, { phase: 'Used', usedAt: at.toISOString(), usedFor }),
    async listAll() {
      const [requests, approvals] = await Promise.all([
        retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvalrequests' })),
        retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvals' })),
      ]) as [{ items: ApprovalRequestObject[] }, { items: ApprovalObject[] }];
      return { requests: requests.items, approvals: approvals.items };
    },
    async listQuotasFor(username) {
      const labelSelector = `${QUOTA_LABEL}=${requesterLabelValue(username)}`;
      const list = (await retryTransient(() => custom.listNamespacedCustomObject({ ...where, plural: 'approvals', labelSelector }))) as { items: ApprovalObject[] };
      return list.items;
    },
    useQuota(approval, usedFor, at) {
      const used = (approval.status?.used ?? 0) + 1;
      const phase = used >= (approval.spec.quota?.deletes ?? 0) ? 'Used' : 'Active';
      return swapStatus(approval, { phase, used, usedAt: at.toISOString(), usedFor });
    },
    async setRequestPhase(request, phase: RequestPhase, approvals, at) {
      const fresh = await this.getRequest(request.metadata.name);
      if (fresh === undefined) return;
      const body = { ...fresh, status: { phase, approvals, ...(phase === 'Used' ? { usedAt: at.toISOString() } : {}) } };
      try {
        await custom.replaceNamespacedCustomObjectStatus({ ...where, plural: 'approvalrequests', name: request.metadata.name, body });
      } catch (error: unknown) {
        if (statusCode(error) !== 409) throw error;
      }
    },
    async mayApprove(user: UserInfo, environment, namespace) {
      const review = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: user.username,
            groups: user.groups,
            ...present({ uid: user.uid, extra: user.extra }),
            resourceAttributes: { group: API_GROUP, resource: 'environments', verb: 'approve', name: environment, namespace },
          },
        },
      });
      return review.status?.allowed === true;
    },
    async recordEvent(request, event) {
      const at = new Date().toISOString();
      const annotations = event.anchor === undefined ? {} : { annotations: anchorAnnotations(event.anchor) };
      await core.createNamespacedEvent({
        namespace: settings.namespace,
        body: {
          metadata: { generateName: `${request.metadata.name.slice(0, 40)}.`, namespace: settings.namespace, ...annotations },
          involvedObject: {
            apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'ApprovalRequest', name: request.metadata.name, namespace: settings.namespace,
            ...present({ uid: request.metadata.uid }),
          },
          reason: event.reason, message: event.message.slice(0, 1024), type: 'Normal',
          source: { component: 'countersign' }, firstTimestamp: new Date(at), lastTimestamp: new Date(at), count: 1,
        },
      }).catch(() => undefined);
    },
    async agentOwner(username) {
      const sa = parseServiceAccount(username);
      if (sa === undefined) return undefined;
      const account = await orUndefinedOn404(retryTransient(() => core.readNamespacedServiceAccount(sa)));
      return account?.metadata?.annotations?.[OWNER_ANNOTATION];
    },
    async allowedSigners() {
      const secret = await orUndefinedOn404(core.readNamespacedSecret({ name: settings.allowedSignersSecret, namespace: settings.namespace }));
      const data = secret?.data?.allowed_signers;
      return data === undefined ? '' : Buffer.from(data, 'base64').toString('utf8');
    },
  };
}
