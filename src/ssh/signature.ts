// Verification of one SSH signature blob (string algorithm, string signature[, flags, counter])
// over some data with a parsed public key. Malformed blobs throw SshWireError; a well-formed
// signature that does not verify is an ordinary refusal.
import { createHash, verify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { CURVES, SK_ED25519, type SshPublicKey } from './keys.js';
import { SshWireError, SshWireReader, sshU32 } from './wire.js';

export type SignatureCheck =
  | { readonly ok: true; readonly userPresent?: boolean; readonly counter?: number }
  | { readonly ok: false; readonly reason: string };

const BAD: SignatureCheck = { ok: false, reason: 'signature does not verify' };
// sshsig only ever signs RSA with SHA-2; ssh-rsa (SHA-1) signatures are refused like OpenSSH does.
const RSA_HASHES: Readonly<Record<string, string>> = { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512' };

function cryptoVerify(hash: string | null, data: Buffer, key: KeyObject | VerifyKeyObjectInput, signature: Buffer): boolean {
  try {
    return verify(hash, data, key, signature);
  } catch {
    // OpenSSL rejects some malformed signatures by throwing; for us that is simply "does not verify".
    return false;
  }
}

function leftPad(value: Buffer, size: number, field: string): Buffer {
  if (value.length > size) throw new SshWireError(`signature: ${field} is longer than the key allows`);
  return Buffer.concat([Buffer.alloc(size - value.length), value]);
}

function expectAlgorithm(r: SshWireReader, expected: string): void {
  const algorithm = r.text('signature algorithm');
  if (algorithm !== expected) throw new SshWireError(`signature algorithm ${algorithm} does not match key type ${expected}`);
}

function ed25519Signature(r: SshWireReader): Buffer {
  const sig = r.string('ed25519 signature');
  if (sig.length !== 64) throw new SshWireError(`signature: ed25519 signature is ${sig.length} bytes, expected 64`);
  return sig;
}

function checkEd25519(key: SshPublicKey, r: SshWireReader, data: Buffer): SignatureCheck {
  expectAlgorithm(r, key.type);
  const sig = ed25519Signature(r);
  r.end();
  return cryptoVerify(null, data, key.key, sig) ? { ok: true } : BAD;
}

/**
 * PROTOCOL.u2f: the authenticator signs SHA256(application) || flags || counter || SHA256(data),
 * so flags and counter travel next to the signature and are authenticated by it.
 */
function checkSkEd25519(key: SshPublicKey & { kind: 'sk-ed25519' }, r: SshWireReader, data: Buffer): SignatureCheck {
  expectAlgorithm(r, SK_ED25519);
  const sig = ed25519Signature(r);
  const flags = r.u8('security key flags');
  const counter = r.u32('security key counter');
  r.end();
  const signed = Buffer.concat([
    createHash('sha256').update(key.application, 'utf8').digest(),
    Buffer.from([flags]),
    sshU32(counter),
    createHash('sha256').update(data).digest(),
  ]);
  if (!cryptoVerify(null, signed, key.key, sig)) return BAD;
  return { ok: true, userPresent: (flags & 0x01) !== 0, counter };
}

function checkEcdsa(key: SshPublicKey & { kind: 'ecdsa' }, r: SshWireReader, data: Buffer): SignatureCheck {
  expectAlgorithm(r, key.type);
  const inner = new SshWireReader(r.string('ecdsa signature'), 'ecdsa signature');
  r.end();
  const { bytes, hash } = CURVES[key.curve];
  const sig = Buffer.concat([leftPad(inner.mpint('r'), bytes, 'r'), leftPad(inner.mpint('s'), bytes, 's')]);
  inner.end();
  return cryptoVerify(hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, sig) ? { ok: true } : BAD;
}

function checkRsa(key: SshPublicKey & { kind: 'rsa' }, r: SshWireReader, data: Buffer): SignatureCheck {
  const algorithm = r.text('signature algorithm');
  const hash = RSA_HASHES[algorithm];
  if (hash === undefined) {
    throw new SshWireError(`signature algorithm ${algorithm} is not accepted for RSA keys (rsa-sha2-256 or rsa-sha2-512 only)`);
  }
  // Like OpenSSH, accept a signature with its leading zero bytes dropped, never a longer one.
  const sig = leftPad(r.string('rsa signature'), Math.ceil(key.bits / 8), 'rsa signature');
  r.end();
  return cryptoVerify(hash, data, key.key, sig) ? { ok: true } : BAD;
}

export function checkSignature(key: SshPublicKey, signatureBlob: Buffer, data: Buffer): SignatureCheck {
  const r = new SshWireReader(signatureBlob, 'signature');
  switch (key.kind) {
    case 'ed25519':
      return checkEd25519(key, r, data);
    case 'sk-ed25519':
      return checkSkEd25519(key, r, data);
    case 'ecdsa':
      return checkEcdsa(key, r, data);
    case 'rsa':
      return checkRsa(key, r, data);
  }
}
