// Checks an approval's SSH signature against the allowed signers, for the approver it names.
import { approvalPayload } from './payload.js';
import type { SignatureVerdict } from './check-approval.js';
import type { ApprovalSpec } from './types.js';

export type SignatureVerifier = (spec: ApprovalSpec, allowedSigners: string) => SignatureVerdict;

export interface SshVerify {
  (input: { armored: string; message: Buffer; namespace: string; principal: string; allowedSignersText: string; now: Date }): SignatureVerdict;
}

export function signatureVerifier(verify: SshVerify, namespace: string, now: () => Date): SignatureVerifier {
  return (spec, allowedSigners) => {
    if (spec.signature === undefined) return { ok: false, reason: 'no signature' };
    return verify({
      armored: spec.signature.armored,
      message: Buffer.from(approvalPayload(spec)),
      namespace,
      principal: spec.approver,
      allowedSignersText: allowedSigners,
      now: now(),
    });
  };
}
