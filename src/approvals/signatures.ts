// Checks an approval's SSH signature over the canonical payload, for the approver it names, against the allowed
// signers kept in a Secret agents cannot touch.
import type { SignatureVerdict } from './check-approval.js';
import { approvalPayload } from './payload.js';
import { parseAllowedSigners, verifySshSignature } from '../ssh/index.js';
import type { ApprovalSpec } from './types.js';

export type SignatureVerifier = (spec: ApprovalSpec, allowedSignersText: string) => SignatureVerdict;

export function signatureVerifier(namespace: string, now: () => Date): SignatureVerifier {
  return (spec, allowedSignersText) => {
    if (spec.signature === undefined) return { ok: false, reason: 'no signature' };
    const signers = parseAllowedSigners(allowedSignersText);
    if (!signers.ok) {
      const first = signers.errors[0];
      return { ok: false, reason: `the allowed-signers list is invalid${first === undefined ? '' : ` (line ${first.line}: ${first.message})`}` };
    }
    const result = verifySshSignature({
      armored: spec.signature.armored,
      message: approvalPayload(spec),
      namespace,
      principal: spec.approver,
      allowedSigners: signers.signers,
      now: now(),
    });
    return result.ok ? { ok: true, keyFingerprint: result.keyFingerprint } : { ok: false, reason: result.reason };
  };
}
