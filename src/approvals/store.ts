// The port to where approval objects live (the Kubernetes API in production, memory in unit tests).
import type { UserInfo } from '../kube/types.js';
import type { AuditAnchor } from '../audit/chain.js';
import type { ApprovalObject, ApprovalRequestObject, RequestPhase } from './types.js';

/** An audit record's place in its replica's chain, as an Event carries it. */
export type EventAnchor = AuditAnchor & { replica: string };

export interface ApprovalStore {
  getRequest(name: string): Promise<ApprovalRequestObject | undefined>;
  /** Creates the request; one that already exists (a repeated attempt) is not an error. */
  createRequest(request: ApprovalRequestObject): Promise<void>;
  deleteRequest(name: string): Promise<void>;
  /** The requests Countersign recorded for one requester (by its label). */
  listRequestsOf(username: string): Promise<ApprovalRequestObject[]>;
  listApprovals(requestName: string): Promise<ApprovalObject[]>;
  /**
   * Marks an approval used, if and only if it is unchanged since it was read (compare-and-swap on its
   * resourceVersion): of two replicas racing for one approval, exactly one wins. False when it lost.
   */
  markUsed(approval: ApprovalObject, usedFor: string, at: Date): Promise<boolean>;
  /** Quota approvals carrying QUOTA_LABEL for this requester (verified by the caller against their requests). */
  listQuotasFor(username: string): Promise<ApprovalObject[]>;
  /** Counts one use of a quota, compare-and-swap on its resourceVersion. False when another replica got there first. */
  useQuota(approval: ApprovalObject, usedFor: string, at: Date): Promise<boolean>;
  /** Best effort: the request's phase is for people; decisions never depend on it alone. */
  setRequestPhase(request: ApprovalRequestObject, phase: RequestPhase, approvals: string[], at: Date): Promise<void>;
  /** SubjectAccessReview: may `user` approve actions in `environment` within `namespace`? */
  mayApprove(user: UserInfo, environment: string, namespace: string): Promise<boolean>;
  /**
   * A Kubernetes Event on a request, for people watching `kubectl get events`. Best effort: it never fails, so it
   * can never change a decision. With an anchor, the Event carries the audit record's place and hash
   * (ANCHOR_ANNOTATIONS), vouching for the audit log from outside it.
   */
  recordEvent(request: ApprovalRequestObject, event: { reason: string; message: string; anchor?: EventAnchor }): Promise<void>;
  /**
   * The human recorded as owner of an agent's ServiceAccount (`kubectl countersign agent-credentials`), if the
   * requester is one: the owner may not approve its agent's requests.
   */
  agentOwner(username: string): Promise<string | undefined>;
  /** Every request and approval in Countersign's namespace: for the approval metrics, never on the request path. */
  listAll(): Promise<{ requests: ApprovalRequestObject[]; approvals: ApprovalObject[] }>;
  /** The allowed-signers file's text from its Secret; empty when there is none. */
  allowedSigners(): Promise<string>;
}
