// What a human signs: the decision and exactly what it is about. SSHSIG carries no timestamp, so the expiry is in
// the payload; the digest binds it to one action on one object.
import { canonicalJson } from '../core/digest.js';
import type { ApprovalSpec } from './types.js';
import { present } from '../kube/present.js';

export function approvalPayload(spec: ApprovalSpec): string {
  return canonicalJson({
    kind: 'CountersignApproval',
    requestName: spec.requestName,
    digest: spec.digest,
    decision: spec.decision,
    approver: spec.approver,
    reason: spec.reason,
    expiresAt: spec.expiresAt,
    ...present({ quota: spec.quota }),
  });
}
