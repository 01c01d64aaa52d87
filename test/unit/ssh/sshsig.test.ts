// SSHSIG verification against real ssh-keygen artefacts, cross-checked with `ssh-keygen -Y verify`.
// Security-key signatures cannot be made without hardware, so those are built here from
// PROTOCOL.u2f + PROTOCOL.sshsig with Node's crypto, and ssh-keygen is asked to agree.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { matchPatternList } from '../../../src/ssh/pattern.js';
import {
  parseAllowedSigners,
  parseSshTime,
  verifySshSignature,
  type AllowedSigner,
  type VerifySshSignatureInput,
  type VerifySshSignatureResult,
} from '../../../src/ssh/index.js';

const NS = 'countersign.dev';
const MESSAGE = '{"approve":"delete deployment/payments","nonce":"3f9c"}\n';
const NOW = new Date();
let dir = '';

function run(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('ssh-keygen', args, { input, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface Key { path: string; pub: string }

function keygen(name: string, type: string, bits?: string): Key {
  const path = join(dir, name);
  const args = ['-q', '-t', type, '-N', '', '-C', `${name}@test`, '-f', path, ...(bits === undefined ? [] : ['-b', bits])];
  const result = run(args);
  if (result.status !== 0) throw new Error(result.stderr);
  return { path, pub: readFileSync(`${path}.pub`, 'utf8').trim() };
}

/** ssh-keygen -Y sign over a file holding `message`; returns the armored signature. */
function sshSign(key: Key, message: string, namespace = NS, hashalg?: string): string {
  const file = join(dir, `msg-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, message);
  const result = run(['-Y', 'sign', '-n', namespace, '-f', key.path, ...(hashalg === undefined ? [] : ['-O', `hashalg=${hashalg}`]), file]);
  if (result.status !== 0) throw new Error(result.stderr);
  return readFileSync(`${file}.sig`, 'utf8');
}

/** Exit status of ssh-keygen -Y verify for the same inputs our verifier gets. */
function sshVerify(allowed: string, principal: string, armored: string, message: string): number | null {
  const id = Math.random().toString(36).slice(2);
  writeFileSync(join(dir, `allowed-${id}`), allowed);
  writeFileSync(join(dir, `sig-${id}`), armored);
  return run(['-Y', 'verify', '-f', join(dir, `allowed-${id}`), '-I', principal, '-n', NS, '-s', join(dir, `sig-${id}`)], message).status;
}

function signers(text: string): AllowedSigner[] {
  const parsed = parseAllowedSigners(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.signers;
}

function line(principals: string, key: Key, options = ''): string {
  const [type, b64] = key.pub.split(' ');
  return `${principals} ${options === '' ? '' : `${options} `}${type} ${b64}\n`;
}

function verify(over: Partial<VerifySshSignatureInput> & { armored: string; allowed: string }): VerifySshSignatureResult {
  return verifySshSignature({ message: MESSAGE, namespace: NS, principal: 'alice@example.com', now: NOW, allowedSigners: signers(over.allowed), ...over });
}

function refusal(result: VerifySshSignatureResult): string {
  if (result.ok) throw new Error('expected a refusal');
  return result.reason;
}

// Independent SSH wire helpers, so the test does not trust the code under test to build its inputs.
const str = (data: Buffer | string): Buffer => {
  const body = Buffer.from(data);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const armor = (blob: Buffer): string =>
  `-----BEGIN SSH SIGNATURE-----\n${(blob.toString('base64').match(/.{1,70}/g) ?? []).join('\n')}\n-----END SSH SIGNATURE-----\n`;
const dearmor = (text: string): Buffer => Buffer.from(text.split('\n').filter((l) => !l.startsWith('-----')).join(''), 'base64');

interface SkKey { privateKey: KeyObject; blob: Buffer; allowedLine: (principal: string) => string }

function skKey(application = 'ssh:'): SkKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  const blob = Buffer.concat([str('sk-ssh-ed25519@openssh.com'), str(raw), str(application)]);
  return { privateKey, blob, allowedLine: (p) => `${p} sk-ssh-ed25519@openssh.com ${blob.toString('base64')}\n` };
}

/** What a FIDO authenticator plus ssh-keygen would produce, per PROTOCOL.sshsig and PROTOCOL.u2f. */
function skSign(key: SkKey, opts: { flags: number; counter: number; message?: string; application?: string }): string {
  const hashalg = 'sha512';
  const signedData = Buffer.concat([
    Buffer.from('SSHSIG'), str(NS), str(''), str(hashalg), str(createHash(hashalg).update(opts.message ?? MESSAGE).digest()),
  ]);
  const u2f = Buffer.concat([
    createHash('sha256').update(opts.application ?? 'ssh:').digest(), Buffer.from([opts.flags]), u32(opts.counter),
    createHash('sha256').update(signedData).digest(),
  ]);
  const sigBlob = Buffer.concat([str('sk-ssh-ed25519@openssh.com'), str(sign(null, u2f, key.privateKey)), Buffer.from([opts.flags]), u32(opts.counter)]);
  return armor(Buffer.concat([Buffer.from('SSHSIG'), u32(1), str(key.blob), str(NS), str(''), str(hashalg), str(sigBlob)]));
}

let ed: Key;
let other: Key;
let edSig: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'countersign-sshsig-'));
  ed = keygen('alice', 'ed25519');
  other = keygen('mallory', 'ed25519');
  edSig = sshSign(ed, MESSAGE);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('parseAllowedSigners', () => {
  it('reads principals, options, key and comment; fingerprints match ssh-keygen -l', () => {
    const text = `# team\n\n  alice@example.com,*@ops.example.com namespaces="countersign.dev,git",valid-after="20240101",valid-before="20991231235959Z" ${ed.pub}\r\n`;
    const [entry, ...rest] = signers(text);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({
      line: 3, principals: 'alice@example.com,*@ops.example.com', namespaces: 'countersign.dev,git',
      validBefore: Date.UTC(2099, 11, 31, 23, 59, 59) / 1000, validAfter: new Date(2024, 0, 1).getTime() / 1000,
      keyType: 'ssh-ed25519', comment: 'alice@test',
    });
    expect(run(['-lf', `${ed.path}.pub`]).stdout.split(' ')[1]).toBe(entry?.fingerprint);
  });

  it('accepts a quoted principal and case-insensitive option names', () => {
    const [entry] = signers(`"alice@example.com,bob@example.com" NAMESPACES="x" ${ed.pub}`);
    expect(entry).toMatchObject({ principals: 'alice@example.com,bob@example.com', namespaces: 'x' });
  });

  it('reports every bad line with its line number', () => {
    const [type, b64] = ed.pub.split(' ') as [string, string];
    const bad = [
      `a cert-authority ${type} ${b64}`,
      `a foo="x" ${type} ${b64}`,
      `a ${type} not*base64`,
      `a ecdsa-sha2-nistp256 ${b64}`,
      `a ssh-dss AAAAB3NzaC1kc3M=`,
      `a namespaces=x ${type} ${b64}`,
      `a valid-after="20240230" ${type} ${b64}`,
      `a valid-after="20250101",valid-before="20240101" ${type} ${b64}`,
      `a namespaces="x",namespaces="y" ${type} ${b64}`,
      `a`,
      `a ${type} ${b64.slice(0, -4)}`,
    ];
    const parsed = parseAllowedSigners(['# header', ...bad].join('\n'));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) throw new Error('expected the bad lines to be refused');
    expect(parsed.errors.map((e) => e.line)).toEqual(bad.map((_, i) => i + 2));
    expect(parsed.errors.map((e) => e.message)).toEqual([
      expect.stringContaining('cert-authority is not supported'),
      'unknown option "foo"',
      'key is not valid base64',
      'key is ssh-ed25519 but the line says ecdsa-sha2-nistp256',
      expect.stringContaining('key type ssh-dss is not supported'),
      'namespaces value must be double-quoted',
      expect.stringContaining('invalid valid-after time "20240230"'),
      'valid-before is not after valid-after',
      'namespaces given more than once',
      'missing key',
      expect.stringContaining('invalid key'),
    ]);
  });

  it('parses ssh-keygen timestamps', () => {
    expect(parseSshTime('20240102Z')).toBe(Date.UTC(2024, 0, 2) / 1000);
    expect(parseSshTime('202401020304utc')).toBe(Date.UTC(2024, 0, 2, 3, 4) / 1000);
    expect(parseSshTime('20240102030405')).toBe(new Date(2024, 0, 2, 3, 4, 5).getTime() / 1000);
    for (const bad of ['2024010', '20241301', '20240100', '20240102250000', '19000101', '2024-01-02', '20240102X']) {
      expect(parseSshTime(bad)).toBeUndefined();
    }
  });
});

describe('pattern-lists', () => {
  it('matches wildcards and honours negation', () => {
    expect(matchPatternList('alice@ops.example.com', '*@ops.example.com')).toBe(true);
    expect(matchPatternList('alice@example.com', 'bob@*,al?ce@example.com')).toBe(true);
    expect(matchPatternList('alice@example.com', '*@example.com,!alice@*')).toBe(false);
    expect(matchPatternList('alice@example.com', 'alice')).toBe(false);
    expect(matchPatternList('a'.repeat(200), '*a*a*a*a*a*a*a*a*b')).toBe(false);
  });
});

describe('verifySshSignature with ssh-keygen signatures', () => {
  it.each([
    ['ed25519', 'ed25519', undefined, undefined],
    ['ecdsa-sha2-nistp256', 'ecdsa', '256', undefined],
    ['ecdsa-sha2-nistp384 over sha256', 'ecdsa', '384', 'sha256'],
    ['rsa-2048 (rsa-sha2-512)', 'rsa', '2048', undefined],
  ])('accepts %s and so does ssh-keygen', (_, type, bits, hashalg) => {
    const key = keygen(`k-${type}-${bits ?? ''}-${hashalg ?? ''}`, type, bits);
    const armored = sshSign(key, MESSAGE, NS, hashalg);
    const allowed = line('alice@example.com', key);
    const result = verify({ armored, allowed });
    expect(result).toEqual({
      ok: true, keyType: key.pub.split(' ')[0], principal: 'alice@example.com',
      keyFingerprint: run(['-lf', `${key.path}.pub`]).stdout.split(' ')[1],
    });
    expect(sshVerify(allowed, 'alice@example.com', armored, MESSAGE)).toBe(0);
  });

  it('accepts a byte message and a wildcard principal', () => {
    const allowed = line('*@example.com,!bob@example.com', ed);
    expect(verify({ armored: edSig, allowed, message: Buffer.from(MESSAGE) }).ok).toBe(true);
    expect(refusal(verify({ armored: edSig, allowed, principal: 'bob@example.com' }))).toBe('principal "bob@example.com" has no allowed signers');
    expect(sshVerify(allowed, 'bob@example.com', edSig, MESSAGE)).not.toBe(0);
  });

  // Each case is refused by us and, with the same inputs, by ssh-keygen -Y verify.
  it.each<[string, () => { over: Partial<VerifySshSignatureInput> & { armored: string; allowed: string }; reason: string | RegExp }]>([
    ['wrong namespace', () => ({ over: { armored: sshSign(ed, MESSAGE, 'git'), allowed: line('alice@example.com', ed) }, reason: 'signature namespace "git" is not the expected "countersign.dev"' })],
    ['message changed by one byte', () => ({ over: { armored: edSig, allowed: line('alice@example.com', ed), message: MESSAGE.replace('3f9c', '3f9d') }, reason: 'signature does not verify' })],
    ['key not in allowed signers', () => ({ over: { armored: sshSign(other, MESSAGE), allowed: line('alice@example.com', ed) }, reason: /^key SHA256:\S+ is not an allowed signer for principal "alice@example.com"$/ })],
    ['principal mismatch', () => ({ over: { armored: edSig, allowed: line('alice@example.com', ed), principal: 'mallory@example.com' }, reason: 'principal "mallory@example.com" has no allowed signers' })],
    ['expired valid-before', () => ({ over: { armored: edSig, allowed: line('alice@example.com', ed, 'valid-before="20200101Z"') }, reason: 'key has expired: valid-before 2020-01-01T00:00:00.000Z (allowed_signers line 1)' })],
    ['not yet valid', () => ({ over: { armored: edSig, allowed: line('alice@example.com', ed, 'valid-after="20990101Z"') }, reason: /^key is not yet valid/ })],
    ['namespace not allowed for the key', () => ({ over: { armored: edSig, allowed: line('alice@example.com', ed, 'namespaces="git,file"') }, reason: 'key is not permitted to sign in namespace "countersign.dev" (allowed_signers line 1)' })],
  ])('refuses %s', (_, make) => {
    const { over, reason } = make();
    expect(refusal(verify(over))).toMatch(reason);
    expect(sshVerify(over.allowed, over.principal ?? 'alice@example.com', over.armored, over.message?.toString() ?? MESSAGE)).not.toBe(0);
  });

  it('uses any usable entry, like ssh-keygen', () => {
    const allowed = line('alice@example.com', ed, 'valid-before="20200101Z"') + line('alice@example.com', ed);
    expect(verify({ armored: edSig, allowed }).ok).toBe(true);
    expect(sshVerify(allowed, 'alice@example.com', edSig, MESSAGE)).toBe(0);
  });
});

describe('verifySshSignature refuses malformed signatures precisely', () => {
  const allowed = (): string => line('alice@example.com', ed);
  const blob = (): Buffer => dearmor(edSig);
  const withBlob = (b: Buffer): string => refusal(verify({ armored: armor(b), allowed: allowed() }));

  it.each<[string, () => string, string | RegExp]>([
    ['empty input', () => '', /does not start with "-----BEGIN SSH SIGNATURE-----"/],
    ['garbage', () => 'hello world', /does not start with/],
    ['missing footer', () => edSig.split('\n').slice(0, -2).join('\n'), /does not end with "-----END SSH SIGNATURE-----"/],
    ['non-base64 body', () => edSig.replace(/\n[A-Za-z0-9+/]{8}/, '\n!!!!!!!!'), 'armored signature body is not valid base64'],
    ['huge input', () => 'x'.repeat(70_000), /longer than 65536/],
  ])('%s', (_, armored, reason) => {
    expect(refusal(verify({ armored: armored(), allowed: allowed() }))).toMatch(reason);
  });

  it('wrong magic, version, reserved, hash and trailing data', () => {
    const b = blob();
    const edit = (at: number, bytes: number[]): Buffer => {
      const c = Buffer.from(b);
      Buffer.from(bytes).copy(c, at);
      return c;
    };
    expect(withBlob(edit(0, [0x58]))).toBe('not an SSHSIG signature (wrong magic)');
    expect(withBlob(edit(6, [0, 0, 0, 2]))).toBe('unsupported SSHSIG version 2');
    expect(withBlob(Buffer.concat([b, Buffer.from([0])]))).toBe('sshsig: 1 bytes of trailing data');
    expect(withBlob(edit(10, [0xff, 0xff, 0xff, 0xff]))).toBe(`sshsig: public key needs 4294967295 bytes but only ${b.length - 14} remain`);
    // Rebuild the envelope around the real key and signature with one field changed.
    const r = { at: 10 };
    const take = (): Buffer => {
      const len = b.readUInt32BE(r.at);
      const out = b.subarray(r.at + 4, r.at + 4 + len);
      r.at += 4 + len;
      return out;
    };
    const [pub, , , hash, sig] = [take(), take(), take(), take(), take()];
    const build = (fields: { reserved?: string; hash?: string }): Buffer => Buffer.concat([
      Buffer.from('SSHSIG'), u32(1), str(pub), str(NS), str(fields.reserved ?? ''), str(fields.hash ?? hash), str(sig),
    ]);
    expect(withBlob(build({ reserved: 'x' }))).toBe('SSHSIG reserved field is not empty');
    expect(withBlob(build({ hash: 'md5' }))).toBe('unsupported hash algorithm "md5"');
    expect(withBlob(build({ hash: 'sha256' }))).toBe('signature does not verify');
    expect(verifySshSignature({ armored: armor(build({})), message: MESSAGE, namespace: NS, principal: 'alice@example.com', now: NOW, allowedSigners: signers(allowed()) }).ok).toBe(true);
  });

  it('never throws and never accepts a truncated or bit-flipped signature', () => {
    const b = blob();
    const allowedSigners = signers(allowed());
    const attempt = (mutated: Buffer): boolean =>
      verifySshSignature({ armored: armor(mutated), message: MESSAGE, namespace: NS, principal: 'alice@example.com', now: NOW, allowedSigners }).ok;
    for (let n = 0; n < b.length; n++) expect(attempt(b.subarray(0, n))).toBe(false);
    for (let i = 0; i < b.length; i++) {
      const c = Buffer.from(b);
      c[i] = (c[i] ?? 0) ^ 0x01;
      expect(attempt(c)).toBe(false);
    }
    expect(attempt(b)).toBe(true);
  });

  it('refuses an unusable principal or time rather than guessing', () => {
    expect(refusal(verify({ armored: edSig, allowed: allowed(), principal: 'a,b' }))).toBe('principal must be a single non-empty identity');
    expect(refusal(verify({ armored: edSig, allowed: allowed(), now: new Date(Number.NaN) }))).toBe('verification time is invalid');
  });
});

describe('sk-ssh-ed25519 (FIDO) signatures built per PROTOCOL.u2f', () => {
  it('accepts a touched signature, reports presence and counter, and ssh-keygen agrees', () => {
    const key = skKey();
    const armored = skSign(key, { flags: 0x01, counter: 42 });
    const allowed = key.allowedLine('alice@example.com');
    expect(verify({ armored, allowed })).toMatchObject({ ok: true, keyType: 'sk-ssh-ed25519@openssh.com', userPresent: true, counter: 42 });
    expect(sshVerify(allowed, 'alice@example.com', armored, MESSAGE)).toBe(0);
  });

  it('refuses a signature without user presence unless told not to; ssh-keygen does not check', () => {
    const key = skKey();
    const armored = skSign(key, { flags: 0x00, counter: 7 });
    const allowed = key.allowedLine('alice@example.com');
    expect(refusal(verify({ armored, allowed }))).toBe('security key signature was made without user presence (no touch)');
    expect(refusal(verify({ armored, allowed, requireUserPresence: true }))).toMatch(/without user presence/);
    expect(verify({ armored, allowed, requireUserPresence: false })).toMatchObject({ ok: true, userPresent: false, counter: 7 });
    expect(sshVerify(allowed, 'alice@example.com', armored, MESSAGE)).toBe(0);
  });

  it('refuses forged flags, a different application and a changed message, as ssh-keygen does', () => {
    const key = skKey();
    const allowed = key.allowedLine('alice@example.com');
    const unsigned = skSign(key, { flags: 0x00, counter: 1 });
    const forged = dearmor(unsigned);
    forged[forged.length - 5] = 0x01; // claim a touch the authenticator never signed
    const cases = [armor(forged), skSign(key, { flags: 0x01, counter: 1, application: 'ssh:other' }), skSign(key, { flags: 0x01, counter: 1, message: 'other' })];
    for (const armored of cases) {
      expect(refusal(verify({ armored, allowed }))).toBe('signature does not verify');
      expect(sshVerify(allowed, 'alice@example.com', armored, MESSAGE)).not.toBe(0);
    }
  });
});
