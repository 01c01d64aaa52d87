// approve and reject: refuse what is already decided, sign where asked, and let the webhook have the last word.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalPayload } from '../approvals/payload.js';
import { API_GROUP, API_VERSION, QUOTA_LABEL, requesterLabelValue, type ApprovalObject, type ApprovalSpec } from '../approvals/types.js';
import type { PluginClient } from './client.js';
import { approvalsOf, effectivePhase } from '../approvals/phase.js';

export interface DecideOptions {
  name: string;
  decision: 'Approve' | 'Reject';
  reason: string;
  ttlSeconds: number;
  signKey?: string;
  /** Approve as a bulk quota of this many deletes. */
  quota?: number;
  signatureNamespace: string;
  countersignNamespace: string;
}

/** `ssh-keygen -Y sign` over the canonical payload: the same bytes the webhook rebuilds and verifies. */
export function signPayload(payload: string, keyFile: string, namespace: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-sign-'));
  try {
    const file = join(dir, 'approval.json');
    writeFileSync(file, payload);
    execFileSync('ssh-keygen', ['-Y', 'sign', '-n', namespace, '-f', keyFile, file], { stdio: ['inherit', 'ignore', 'inherit'] });
    return readFileSync(`${file}.sig`, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function approvalName(requestName: string, approver: string): string {
  const who = approver.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 30);
  return `${requestName}-${who}-${Date.now().toString(36)}`;
}

export async function answerRequest(client: PluginClient, options: DecideOptions, now: Date): Promise<string> {
  const [request, approvals, me] = await Promise.all([client.getRequest(options.name), client.listApprovals(), client.whoami()]);
  const phase = effectivePhase(request, approvals, now);
  if (phase !== 'Pending' && !(phase === 'Approved' && options.decision === 'Reject')) {
    throw new Error(`${options.name} is already ${phase.toLowerCase()}; nothing to ${options.decision.toLowerCase()}`);
  }
  if (approvalsOf(request, approvals).some((a) => a.spec.approver === me)) throw new Error(`you (${me}) have already decided on ${options.name}`);
  const spec: ApprovalSpec = {
    requestName: request.metadata.name,
    digest: request.spec.digest,
    decision: options.decision,
    approver: me,
    reason: options.reason,
    expiresAt: new Date(now.getTime() + options.ttlSeconds * 1000).toISOString(),
    ...(options.quota === undefined ? {} : { quota: { deletes: options.quota } }),
  };
  if (options.signKey !== undefined) spec.signature = { armored: signPayload(approvalPayload(spec), options.signKey, options.signatureNamespace) };
  const approval: ApprovalObject = {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Approval',
    metadata: {
      name: approvalName(request.metadata.name, me), namespace: options.countersignNamespace,
      // Countersign finds an agent's quotas by this label (and checks it against the request at admission).
      ...(options.quota === undefined ? {} : { labels: { [QUOTA_LABEL]: requesterLabelValue(request.spec.requester.username) } }),
    },
    spec,
  };
  await client.createApproval(approval);
  if (options.decision === 'Reject') return `${options.name} rejected by ${me} (${approval.metadata.name}).\n`;
  const scope = spec.quota === undefined
    ? ''
    : `, a quota of ${String(spec.quota.deletes)} deletes of ${request.spec.action.resource} in ${request.spec.action.namespace || 'the cluster scope'} by ${request.spec.requester.username}`;
  return `${options.name} approved by ${me} (approval ${approval.metadata.name}, valid until ${spec.expiresAt}${spec.signature === undefined ? '' : ', signed'}${scope}).\n`;
}
