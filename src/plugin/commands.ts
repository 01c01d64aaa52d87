// list and show: what the guard recorded, shown as the guard computed it. An agent's own words never appear here.
import type { ApprovalObject, ApprovalRequestObject } from '../approvals/types.js';
import { age, printable, render, table, type OutputFormat } from './format.js';
import { approvalsOf, effectivePhase } from '../approvals/phase.js';

export interface ListOptions {
  namespace?: string;
  allNamespaces: boolean;
  output: OutputFormat;
  all: boolean;
}

function target(request: ApprovalRequestObject): string {
  const { action } = request.spec;
  const resource = `${action.group === '' ? '' : `${action.group}/`}${action.resource}${action.subResource === '' ? '' : `/${action.subResource}`}`;
  return `${action.operation} ${resource} ${action.namespace === '' || action.resource === 'namespaces' ? '' : `${action.namespace}/`}${action.name}`;
}

function impact(request: ApprovalRequestObject): string {
  const total = request.spec.impact?.total;
  return typeof total === 'number' ? `${total} objects` : '-';
}

export function listRequests(requests: ApprovalRequestObject[], approvals: ApprovalObject[], options: ListOptions, now: Date): string {
  const chosen = requests
    .filter((r) => options.allNamespaces || options.namespace === undefined || r.spec.action.namespace === options.namespace)
    .map((r) => ({ request: r, phase: effectivePhase(r, approvals, now) }))
    .filter((r) => options.all || r.phase === 'Pending')
    .sort((a, b) => (a.request.metadata.creationTimestamp ?? '').localeCompare(b.request.metadata.creationTimestamp ?? ''));
  return render(options.output, chosen.map((c) => ({ ...c.request, status: { ...c.request.status, phase: c.phase } })), () =>
    chosen.length === 0
      ? 'No pending approval requests.\n'
      : table(
          ['NAME', 'REQUESTER', 'ACTION', 'ENVIRONMENT', 'IMPACT', 'PHASE', 'AGE', 'EXPIRES'],
          chosen.map(({ request: r, phase }) => [
            r.metadata.name, r.spec.requester.username, target(r), r.spec.environment, impact(r), phase,
            age(r.metadata.creationTimestamp, now), age(r.spec.expiresAt, now),
          ]),
        ),
  );
}

export function showRequest(request: ApprovalRequestObject, approvals: ApprovalObject[], output: OutputFormat, now: Date): string {
  const mine = approvalsOf(request, approvals);
  const phase = effectivePhase(request, approvals, now);
  return render(output, { request, approvals: mine, phase }, () => {
    const { spec } = request;
    const lines = [
      `Name:          ${request.metadata.name}`,
      `Phase:         ${phase}`,
      `Requester:     ${spec.requester.username}`,
      `Action:        ${target(request)}`,
      `Object:        uid ${spec.action.uid || '-'}, resourceVersion ${spec.action.resourceVersion || '-'}${spec.action.propagationPolicy === '' ? '' : `, propagation ${spec.action.propagationPolicy}`}`,
      `Environment:   ${spec.environment}`,
      `Rule:          ${spec.rule}`,
      `Why gated:     ${spec.message}`,
      `Impact:        ${spec.impact === undefined ? 'not computed' : JSON.stringify(spec.impact)}`,
      ...(spec.change === undefined ? [] : ['Change:', ...spec.change.lines.map((l) => `  ${l}`), ...(spec.change.truncated ? ['  (more changes not shown)'] : [])]),
      `Needs:         ${spec.approvalsRequired} approval(s)${spec.signatureRequired ? ', SSH-signed' : ''}`,
      `Digest:        ${spec.digest}`,
      `Expires:       ${spec.expiresAt} (${age(spec.expiresAt, now)})`,
      `Decisions:     ${mine.length === 0 ? 'none' : ''}`,
      ...mine.map((a) => `  ${a.spec.decision} by ${a.spec.approver} (${a.metadata.name}${a.spec.signature === undefined ? '' : ', signed'}, ${a.status?.phase ?? 'Active'}): ${a.spec.reason}`),
    ];
    return `${lines.map(printable).join('\n')}\n`;
  });
}
