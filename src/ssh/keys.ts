// SSH public key blobs (RFC 4253 §6.6, RFC 5656 §3.1, RFC 8709, PROTOCOL.u2f) parsed into the
// shapes Node's crypto can verify with. Only key types we can verify are accepted; the rest are
// named so an operator sees why a key was refused rather than a generic parse failure.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SshWireError, SshWireReader } from './wire.js';

export const ED25519 = 'ssh-ed25519';
export const SK_ED25519 = 'sk-ssh-ed25519@openssh.com';
export const RSA = 'ssh-rsa';

export type EcdsaCurve = 'nistp256' | 'nistp384' | 'nistp521';
interface CurveInfo { readonly jwk: string; readonly hash: string; readonly bytes: number }
export const CURVES: Readonly<Record<EcdsaCurve, CurveInfo>> = {
  nistp256: { jwk: 'P-256', hash: 'sha256', bytes: 32 },
  nistp384: { jwk: 'P-384', hash: 'sha384', bytes: 48 },
  nistp521: { jwk: 'P-521', hash: 'sha512', bytes: 66 },
};

/** Key types this module verifies. */
export const SUPPORTED_KEY_TYPES: readonly string[] = [
  ED25519, SK_ED25519, RSA, 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521',
];

/** Other OpenSSH key types: recognised only to give a precise "unsupported" reason. */
const KNOWN_UNSUPPORTED = /^(ssh-dss|sk-ecdsa-sha2-nistp256@openssh\.com|[a-z0-9-]+-cert-v0[01]@openssh\.com|x509v3-.*)$/;

// OpenSSH refuses RSA below 1024 bits; an approval gate has no reason to accept anything weak.
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 16384;

interface KeyBase { readonly type: string; readonly blob: Buffer; readonly key: KeyObject }
export type SshPublicKey =
  | (KeyBase & { readonly kind: 'ed25519' })
  | (KeyBase & { readonly kind: 'sk-ed25519'; readonly application: string })
  | (KeyBase & { readonly kind: 'ecdsa'; readonly curve: EcdsaCurve })
  | (KeyBase & { readonly kind: 'rsa'; readonly bits: number });

export function isKnownKeyType(name: string): boolean {
  return SUPPORTED_KEY_TYPES.includes(name) || KNOWN_UNSUPPORTED.test(name);
}

/** "SHA256:<unpadded base64>", exactly as ssh-keygen -l prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

function b64url(data: Buffer): string {
  return data.toString('base64url');
}

function ed25519Key(r: SshWireReader): KeyObject {
  const raw = r.string('ed25519 public key');
  if (raw.length !== 32) throw new SshWireError(`ed25519 public key is ${raw.length} bytes, expected 32`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw) }, format: 'jwk' });
}

function ecdsaKey(r: SshWireReader, curve: EcdsaCurve): KeyObject {
  const named = r.text('ecdsa curve name');
  if (named !== curve) throw new SshWireError(`ecdsa key names curve "${named}" but its type says ${curve}`);
  const point = r.string('ecdsa public point');
  const size = CURVES[curve].bytes;
  // Only uncompressed points (0x04 || X || Y), as OpenSSH writes them.
  if (point.length !== 1 + 2 * size || point[0] !== 0x04) throw new SshWireError(`ecdsa ${curve} point is not an uncompressed point`);
  const jwk = { kty: 'EC', crv: CURVES[curve].jwk, x: b64url(point.subarray(1, 1 + size)), y: b64url(point.subarray(1 + size)) };
  return createPublicKey({ key: jwk, format: 'jwk' });
}

function rsaKey(r: SshWireReader): { key: KeyObject; bits: number } {
  const e = r.mpint('rsa exponent');
  const n = r.mpint('rsa modulus');
  const top = n[0];
  const bits = top === undefined ? 0 : (n.length - 1) * 8 + (32 - Math.clz32(top));
  if (bits < RSA_MIN_BITS) throw new SshWireError(`rsa key has ${bits} bits; at least ${RSA_MIN_BITS} are required`);
  if (bits > RSA_MAX_BITS) throw new SshWireError(`rsa key has ${bits} bits; at most ${RSA_MAX_BITS} are accepted`);
  if (e.length === 0 || e.length > 8) throw new SshWireError('rsa exponent is out of range');
  return { key: createPublicKey({ key: { kty: 'RSA', n: b64url(n), e: b64url(e) }, format: 'jwk' }), bits };
}

function ecdsaCurveOf(type: string): EcdsaCurve | undefined {
  const match = /^ecdsa-sha2-(nistp256|nistp384|nistp521)$/.exec(type);
  return match?.[1] as EcdsaCurve | undefined;
}

function parseBody(r: SshWireReader, type: string, blob: Buffer): SshPublicKey {
  if (type === ED25519) return { kind: 'ed25519', type, blob, key: ed25519Key(r) };
  if (type === SK_ED25519) {
    const key = ed25519Key(r);
    return { kind: 'sk-ed25519', type, blob, key, application: r.text('security key application') };
  }
  if (type === RSA) return { kind: 'rsa', type, blob, ...rsaKey(r) };
  const curve = ecdsaCurveOf(type);
  if (curve !== undefined) return { kind: 'ecdsa', type, blob, curve, key: ecdsaKey(r, curve) };
  throw new SshWireError(isKnownKeyType(type) ? `key type ${type} is not supported` : `unknown key type "${type}"`);
}

/**
 * Parses a public key blob. Throws SshWireError on anything malformed; Node's own errors for
 * points off the curve and the like are rewrapped so callers handle a single error type.
 */
export function parsePublicKey(blob: Buffer): SshPublicKey {
  const r = new SshWireReader(blob, 'public key');
  const type = r.text('key type');
  let parsed: SshPublicKey;
  try {
    parsed = parseBody(r, type, blob);
  } catch (error: unknown) {
    if (error instanceof SshWireError) throw error;
    throw new SshWireError(`${type} public key is invalid: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  r.end();
  return parsed;
}
