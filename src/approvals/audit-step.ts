// One step of an approval's life, recorded twice: a hash-chained audit line (observability/audit-log.ts) and, when
// the step has one, a Kubernetes Event on the request carrying the line's place and hash, so the cluster's Events
// vouch for the log (a tail deleted from it no longer matches them).
import type { AuditAnchor, AuditEvent, AuditFields } from '../audit/chain.js';
import type { AuditTrail } from '../audit/trail.js';
import type { ApprovalStore } from './store.js';
import type { ActionTarget, ApprovalObject, ApprovalRequestObject } from './types.js';

export interface AuditDeps {
  store: ApprovalStore;
  audit: AuditTrail;
}

export interface AuditStep {
  event: AuditEvent;
  fields: AuditFields;
  /** The Kubernetes Event on the request, if this step has one. */
  kubeEvent?: { request: ApprovalRequestObject; reason: string; message: string };
}

/** Writes the audit line, then the Event (best effort, as ever) anchored to it. */
export async function auditStep(deps: AuditDeps, step: AuditStep): Promise<AuditAnchor> {
  const anchor = deps.audit.record(step.event, step.fields);
  if (step.kubeEvent !== undefined) {
    const { request, reason, message } = step.kubeEvent;
    await deps.store.recordEvent(request, { reason, message, anchor: { ...anchor, replica: deps.audit.replica } });
  }
  return anchor;
}

/** An action as one line: `DELETE apps/v1/deployments shop-prod/web`. */
export function actionLabel(action: Pick<ActionTarget, 'operation' | 'group' | 'version' | 'resource' | 'subResource' | 'namespace' | 'name'>): string {
  const resource = `${action.group === '' ? '' : `${action.group}/`}${action.version}/${action.resource}${action.subResource === '' ? '' : `/${action.subResource}`}`;
  return `${action.operation} ${resource} ${action.namespace === '' ? '' : `${action.namespace}/`}${action.name}`;
}

/** What every record about a request says: which request, for which action, asked by whom, under which rule. */
export function requestFields(request: ApprovalRequestObject): AuditFields {
  const { spec } = request;
  return {
    request: request.metadata.name, digest: spec.digest, requester: spec.requester.username, rule: spec.rule, environment: spec.environment,
    action: actionLabel(spec.action),
  };
}

export function approvalFields(approvals: readonly ApprovalObject[]): AuditFields {
  return { approvals: approvals.map((a) => a.metadata.name), approvers: approvals.map((a) => a.spec.approver) };
}
