// Verifies `ssh-keygen -Y sign` signatures (OpenSSH PROTOCOL.sshsig) against an allowed_signers
// list, so a human approves an agent's gated action by signing its payload with their SSH key.
// Everything here treats the armored signature as hostile: any refusal is a { ok: false, reason }.
// Hand-written: no maintained npm package verifies SSHSIG (security keys included); ssh-keygen cross-checks it.
import { createHash } from 'node:crypto';
import type { AllowedSigner } from './allowed-signers.js';
import { matchPatternList } from './pattern.js';
import { fingerprint, parsePublicKey, type SshPublicKey } from './keys.js';
import { checkSignature } from './signature.js';
import { decodeBase64Strict, SshWireError, SshWireReader, sshString } from './wire.js';

export { parseAllowedSigners, parseSshTime } from './allowed-signers.js';
export type { AllowedSigner, AllowedSignersError, AllowedSignersResult } from './allowed-signers.js';

export interface VerifySshSignatureInput {
  /** The armored "-----BEGIN SSH SIGNATURE-----" text. */
  readonly armored: string;
  /** What was signed; a string is taken as its UTF-8 bytes. */
  readonly message: Uint8Array | string;
  /** Expected signature namespace (ssh-keygen -n), e.g. "countersign.dev". */
  readonly namespace: string;
  /** The identity the approval claims; matched against allowed_signers principal patterns. */
  readonly principal: string;
  readonly allowedSigners: readonly AllowedSigner[];
  readonly now: Date;
  /**
   * Refuse security-key signatures made without a touch. ssh-keygen -Y verify does not check this,
   * but an approval nobody physically confirmed is no approval, so it defaults to true.
   */
  readonly requireUserPresence?: boolean;
}

export type VerifySshSignatureResult =
  | {
      readonly ok: true;
      readonly keyFingerprint: string;
      readonly keyType: string;
      readonly principal: string;
      /** Security keys only: whether the authenticator attested a user touch. */
      readonly userPresent?: boolean;
      /** Security keys only: the authenticator's signature counter. */
      readonly counter?: number;
    }
  | { readonly ok: false; readonly reason: string };

const MAGIC = Buffer.from('SSHSIG');
const VERSION = 1;
const BEGIN = '-----BEGIN SSH SIGNATURE-----';
const END = '-----END SSH SIGNATURE-----';
// An RSA-16384 key plus signature armors to under 6 KiB; anything far larger is not a signature.
const MAX_ARMORED = 64 * 1024;
const HASHES = new Set(['sha256', 'sha512']);

interface Envelope {
  readonly key: SshPublicKey;
  readonly namespace: string;
  readonly hashAlgorithm: string;
  readonly signature: Buffer;
}

class Refusal extends Error {}

function dearmor(armored: string): Buffer {
  if (armored.length > MAX_ARMORED) throw new Refusal(`armored signature is longer than ${MAX_ARMORED} characters`);
  const text = armored.replace(/\r\n/g, '\n').trim();
  if (!text.startsWith(`${BEGIN}\n`)) throw new Refusal(`armored signature does not start with "${BEGIN}"`);
  if (!text.endsWith(`\n${END}`)) throw new Refusal(`armored signature does not end with "${END}"`);
  const body = text.slice(BEGIN.length + 1, text.length - END.length - 1).replace(/\n/g, '');
  const blob = decodeBase64Strict(body);
  if (blob === undefined) throw new Refusal('armored signature body is not valid base64');
  return blob;
}

function parseEnvelope(blob: Buffer): Envelope {
  const r = new SshWireReader(blob, 'sshsig');
  if (!r.bytes(MAGIC.length, 'magic').equals(MAGIC)) throw new Refusal('not an SSHSIG signature (wrong magic)');
  const version = r.u32('version');
  if (version !== VERSION) throw new Refusal(`unsupported SSHSIG version ${version}`);
  const key = parsePublicKey(r.string('public key'));
  const namespace = r.text('namespace');
  // OpenSSH signs an empty reserved field but never checks it; insisting on empty keeps the
  // unsigned envelope from carrying arbitrary bytes.
  if (r.string('reserved').length !== 0) throw new Refusal('SSHSIG reserved field is not empty');
  const hashAlgorithm = r.text('hash algorithm');
  const signature = r.string('signature');
  r.end();
  return { key, namespace, hashAlgorithm, signature };
}

/** PROTOCOL.sshsig "signed data": what the key actually signs, binding namespace and hash choice. */
function signedData(envelope: Envelope, message: Buffer): Buffer {
  return Buffer.concat([
    MAGIC,
    sshString(envelope.namespace),
    sshString(''),
    sshString(envelope.hashAlgorithm),
    sshString(createHash(envelope.hashAlgorithm).update(message).digest()),
  ]);
}

/** Why one allowed_signers entry (already matching principal and key) cannot vouch now, if it cannot. */
function entryObjection(entry: AllowedSigner, namespace: string, nowSeconds: number): string | undefined {
  const where = `allowed_signers line ${entry.line}`;
  if (entry.namespaces !== undefined && !matchPatternList(namespace, entry.namespaces)) {
    return `key is not permitted to sign in namespace "${namespace}" (${where})`;
  }
  if (entry.validAfter !== undefined && nowSeconds < entry.validAfter) {
    return `key is not yet valid: valid-after ${new Date(entry.validAfter * 1000).toISOString()} (${where})`;
  }
  if (entry.validBefore !== undefined && nowSeconds > entry.validBefore) {
    return `key has expired: valid-before ${new Date(entry.validBefore * 1000).toISOString()} (${where})`;
  }
  return undefined;
}

/** Like ssh-keygen, any one usable entry for this principal and key suffices. */
function authorise(input: VerifySshSignatureInput, envelope: Envelope): void {
  const keyFingerprint = fingerprint(envelope.key.blob);
  const forPrincipal = input.allowedSigners.filter((entry) => matchPatternList(input.principal, entry.principals));
  if (forPrincipal.length === 0) throw new Refusal(`principal "${input.principal}" has no allowed signers`);
  const sameKey = forPrincipal.filter((entry) => entry.publicKey.equals(envelope.key.blob));
  if (sameKey.length === 0) throw new Refusal(`key ${keyFingerprint} is not an allowed signer for principal "${input.principal}"`);
  const nowSeconds = Math.floor(input.now.getTime() / 1000);
  const objections = sameKey.map((entry) => entryObjection(entry, input.namespace, nowSeconds));
  if (objections.every((objection) => objection !== undefined)) throw new Refusal(objections.join('; '));
}

function verifyOrThrow(input: VerifySshSignatureInput): VerifySshSignatureResult {
  if (input.principal === '' || input.principal.includes(',')) throw new Refusal('principal must be a single non-empty identity');
  if (Number.isNaN(input.now.getTime())) throw new Refusal('verification time is invalid');
  const envelope = parseEnvelope(dearmor(input.armored));
  if (envelope.namespace !== input.namespace) {
    throw new Refusal(`signature namespace "${envelope.namespace}" is not the expected "${input.namespace}"`);
  }
  if (!HASHES.has(envelope.hashAlgorithm)) throw new Refusal(`unsupported hash algorithm "${envelope.hashAlgorithm}"`);
  // Authorise before doing any public-key maths so unknown keys cost nothing.
  authorise(input, envelope);
  const message = typeof input.message === 'string' ? Buffer.from(input.message, 'utf8') : Buffer.from(input.message);
  const check = checkSignature(envelope.key, envelope.signature, signedData(envelope, message));
  if (!check.ok) throw new Refusal(check.reason);
  if (check.userPresent === false && input.requireUserPresence !== false) {
    throw new Refusal('security key signature was made without user presence (no touch)');
  }
  const base = { ok: true as const, keyFingerprint: fingerprint(envelope.key.blob), keyType: envelope.key.type, principal: input.principal };
  return check.userPresent === undefined ? base : { ...base, userPresent: check.userPresent, counter: check.counter };
}

/**
 * The fingerprint of the key an armored signature names, without verifying it: for telling approvals apart by key
 * where the signature was verified when it was admitted. Undefined for anything that is not an SSHSIG envelope.
 */
export function claimedSigningKey(armored: string): string | undefined {
  try {
    return fingerprint(parseEnvelope(dearmor(armored)).key.blob);
  } catch {
    return undefined;
  }
}

/** Verifies an SSHSIG armored signature; never throws on malformed input. */
export function verifySshSignature(input: VerifySshSignatureInput): VerifySshSignatureResult {
  try {
    return verifyOrThrow(input);
  } catch (error: unknown) {
    if (error instanceof Refusal || error instanceof SshWireError) return { ok: false, reason: error.message };
    // Fail closed on anything unforeseen: an approval gate must refuse, not crash the webhook.
    return { ok: false, reason: `verification failed: ${error instanceof Error ? error.message : String(error)}` };
  }
}
