// The approval resources as Countersign reads and writes them (charts/countersign/crds/).
import { createHash } from 'node:crypto';
import type { ActionRecord } from '../core/digest.js';

export const API_GROUP = 'countersign.dev';
export const API_VERSION = 'v1alpha1';

export type RequestPhase = 'Pending' | 'Approved' | 'Rejected' | 'Expired' | 'Used';

export interface ObjectMetadata {
  name: string;
  namespace: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
}

/** The action itself, as the digest saw it; who, where and why are recorded beside it in the request. */
export type ActionTarget = Omit<ActionRecord, 'requester' | 'environment' | 'rule' | 'message'>;

export interface ApprovalRequestSpec {
  digest: string;
  action: ActionTarget;
  requester: { username: string; groups: string[] };
  /** The human recorded as the requesting agent's owner when the request was filed (agent-credentials). */
  requesterOwner?: string;
  environment: string;
  rule: string;
  message: string;
  impact?: Record<string, unknown>;
  /** What would change, as Countersign computed it (never the agent's words). */
  change?: { lines: string[]; truncated: boolean };
  approvalsRequired: number;
  signatureRequired: boolean;
  expiresAt: string;
}

export interface ApprovalRequestObject {
  apiVersion: string;
  kind: 'ApprovalRequest';
  metadata: ObjectMetadata;
  spec: ApprovalRequestSpec;
  status?: { phase?: RequestPhase; approvals?: string[]; usedAt?: string };
}

export interface ApprovalSpec {
  requestName: string;
  digest: string;
  decision: 'Approve' | 'Reject';
  approver: string;
  reason: string;
  expiresAt: string;
  signature?: { armored: string };
  /**
   * A bulk quota: the approval covers up to `deletes` deletes by the same agent of the same resource in the same
   * namespace until it expires, instead of the one action of its request.
   */
  quota?: { deletes: number };
}

export interface ApprovalObject {
  apiVersion: string;
  kind: 'Approval';
  metadata: ObjectMetadata;
  spec: ApprovalSpec;
  status?: { phase?: 'Active' | 'Used' | 'Expired'; usedAt?: string; usedFor?: string; used?: number };
}

/**
 * On a quota Approval: the agent it is for, as requesterLabelValue. Checked at admission against the request the
 * approval names, so Countersign can find an agent's quotas by label and still trust what it finds.
 */
export const QUOTA_LABEL = 'countersign.dev/quota-for';

/** The most deletes one quota may grant. */
export const MAX_QUOTA_DELETES = 1000;

/** Set by Countersign (the only writer of requests), so it can be trusted to find one requester's requests. */
export const REQUESTER_LABEL = 'countersign.dev/requester';

/** A label value for a username (labels allow 63 characters of [A-Za-z0-9._-]). */
export function requesterLabelValue(username: string): string {
  return createHash('sha256').update(username).digest('hex').slice(0, 40);
}

/**
 * `cs-` and the whole digest: the same attempt always maps to the same request, and no other action can (a
 * shortened name would let an agent search for a second action sharing an approved request's name).
 */
export function requestNameFor(digest: string): string {
  return `cs-${digest.replace(/^sha256:/, '')}`;
}

/** On an agent's ServiceAccount: the human who issued it. That human may not approve the agent's requests. */
export const OWNER_ANNOTATION = 'countersign.dev/owner';
