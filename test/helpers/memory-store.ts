// An in-memory ApprovalStore with the same compare-and-swap semantics as the API server's resourceVersion.
import type { UserInfo } from '../../src/kube/types.js';
import type { ApprovalStore, EventAnchor } from '../../src/approvals/store.js';
import { QUOTA_LABEL, requesterLabelValue, type ApprovalObject, type ApprovalRequestObject, type RequestPhase } from '../../src/approvals/types.js';

export interface MemoryStore extends ApprovalStore {
  requests: Map<string, ApprovalRequestObject>;
  approvals: Map<string, ApprovalObject>;
  /**
   * Stores an Approval as the apiserver does once admission allowed it, without judging it. Tests make a human's
   * Approval with approve() or answer() (approval-flow.ts), which run Countersign's admission first.
   */
  add(approval: ApprovalObject): void;
  approvers: Set<string>;
  owners: Map<string, string>;
  signers: string;
  events: { request: string; reason: string; message: string; anchor?: EventAnchor }[];
}

export function memoryStore(): MemoryStore {
  let version = 0;
  const next = (): string => String((version += 1));
  const store: MemoryStore = {
    requests: new Map(),
    approvals: new Map(),
    approvers: new Set(['sre-a', 'sre-b']),
    owners: new Map(),
    agentOwner: (username) => Promise.resolve(store.owners.get(username)),
    signers: '',
    events: [],
    recordEvent(request, event) { store.events.push({ request: request.metadata.name, ...event }); return Promise.resolve(); },
    add(approval) { store.approvals.set(approval.metadata.name, { ...approval, metadata: { ...approval.metadata, resourceVersion: next() } }); },
    getRequest: (name) => Promise.resolve(store.requests.get(name)),
    createRequest(request) {
      if (!store.requests.has(request.metadata.name)) store.requests.set(request.metadata.name, { ...request, metadata: { ...request.metadata, resourceVersion: next() } });
      return Promise.resolve();
    },
    deleteRequest(name) { store.requests.delete(name); return Promise.resolve(); },
    listRequestsOf: (username) => Promise.resolve([...store.requests.values()].filter((r) => r.spec.requester.username === username)),
    listApprovals: (requestName) => Promise.resolve([...store.approvals.values()].filter((a) => a.spec.requestName === requestName)),
    markUsed(approval, usedFor, at) {
      const current = store.approvals.get(approval.metadata.name);
      if (current === undefined || current.metadata.resourceVersion !== approval.metadata.resourceVersion) return Promise.resolve(false);
      store.approvals.set(approval.metadata.name, { ...current, metadata: { ...current.metadata, resourceVersion: next() }, status: { phase: 'Used', usedAt: at.toISOString(), usedFor } });
      return Promise.resolve(true);
    },
    listQuotasFor: (username) => Promise.resolve([...store.approvals.values()].filter((a) => a.metadata.labels?.[QUOTA_LABEL] === requesterLabelValue(username))),
    useQuota(approval, usedFor, at) {
      const current = store.approvals.get(approval.metadata.name);
      if (current === undefined || current.metadata.resourceVersion !== approval.metadata.resourceVersion) return Promise.resolve(false);
      const used = (current.status?.used ?? 0) + 1;
      const phase = used >= (current.spec.quota?.deletes ?? 0) ? 'Used' : 'Active';
      store.approvals.set(approval.metadata.name, { ...current, metadata: { ...current.metadata, resourceVersion: next() }, status: { phase, used, usedAt: at.toISOString(), usedFor } });
      return Promise.resolve(true);
    },
    setRequestPhase(request, phase: RequestPhase, approvals) {
      const current = store.requests.get(request.metadata.name);
      if (current !== undefined) store.requests.set(request.metadata.name, { ...current, status: { phase, approvals } });
      return Promise.resolve();
    },
    mayApprove: (user: UserInfo) => Promise.resolve(store.approvers.has(user.username)),
    allowedSigners: () => Promise.resolve(store.signers),
    listAll: () => Promise.resolve({ requests: [...store.requests.values()], approvals: [...store.approvals.values()] }),
  };
  return store;
}
