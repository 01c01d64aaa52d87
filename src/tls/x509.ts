// Minting the webhook's own CA and serving certificates: ECDSA P-256, signed with SHA-256, the extensions Go's
// verifier (the apiserver's) checks. Keys and certificates travel as PEM text.
// Hand-written (with der.ts): Node signs and parses certificates but cannot build them, and the libraries that can
// (node-forge, @peculiar/x509) would bring RSA-era code or async WebCrypto into a synchronous, pure rotation plan.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  bitString, boolean, explicit, implicit, namedBits, octetString, oid, sequence, set, smallInteger, time, unsignedInteger,
  utf8String,
} from './der.js';

export interface KeyPair {
  /** PEM, one certificate (or, for a CA bundle, several). */
  cert: string;
  /** PEM, PKCS#8. */
  key: string;
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));
const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 };
// Certificates start an hour in the past: a replica whose clock runs ahead of the apiserver's must not mint a
// certificate the apiserver calls not yet valid. Renewal is timed from the configured validity, not from this.
const BACKDATE_MS = 3_600_000;

const name = (commonName: string): Buffer => sequence(set(sequence(oid('2.5.4.3'), utf8String(commonName))));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return sequence(oid(id), ...(critical ? [boolean(true)] : []), octetString(value));
}

function keyId(publicKey: KeyObject): Buffer {
  // RFC 7093 allows any stable hash of the key; SHA-256 truncated to SHA-1's length is what most tools show.
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest().subarray(0, 20);
}

function subjectAltNames(hosts: readonly string[]): Buffer {
  return sequence(...hosts.map((host) => {
    if (isIP(host) === 4) return implicit(7, Buffer.from(host.split('.').map(Number)));
    return implicit(2, Buffer.from(host, 'ascii'));
  }));
}

interface Template {
  commonName: string;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** A CA signs certificates; a serving certificate names the hosts it answers for. */
  ca: boolean;
  hosts: readonly string[];
}

interface Issuer {
  commonName: string;
  key: KeyObject;
  publicKey: KeyObject;
}

function extensions(template: Template, issuer: Issuer): Buffer {
  const common = [
    extension('2.5.29.14', false, octetString(keyId(template.publicKey))),
    extension('2.5.29.35', false, sequence(implicit(0, keyId(issuer.publicKey)))),
  ];
  if (template.ca) {
    return sequence(
      extension('2.5.29.19', true, sequence(boolean(true), smallInteger(0))),
      extension('2.5.29.15', true, namedBits([KEY_USAGE.digitalSignature, KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      ...common,
    );
  }
  return sequence(
    extension('2.5.29.19', true, sequence()),
    extension('2.5.29.15', true, namedBits([KEY_USAGE.digitalSignature])),
    extension('2.5.29.37', false, sequence(oid('1.3.6.1.5.5.7.3.1'))),
    extension('2.5.29.17', false, subjectAltNames(template.hosts)),
    ...common,
  );
}

function certificate(template: Template, issuer: Issuer): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    ECDSA_WITH_SHA256,
    name(issuer.commonName),
    sequence(time(template.notBefore), time(template.notAfter)),
    name(template.commonName),
    template.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions(template, issuer)),
  );
  const der = sequence(tbs, ECDSA_WITH_SHA256, bitString(sign('sha256', tbs, issuer.key)));
  const body = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

function pkcs8(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function createCa(commonName: string, now: Date, validitySeconds: number): KeyPair {
  const { privateKey, publicKey } = newKey();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + validitySeconds * 1000);
  const cert = certificate({ commonName, publicKey, notBefore, notAfter, ca: true, hosts: [] }, { commonName, key: privateKey, publicKey });
  return { cert, key: pkcs8(privateKey) };
}

/** A serving certificate for `hosts` (DNS names or IPv4 addresses), never outliving its CA. */
export function issueServing(ca: KeyPair, hosts: readonly string[], now: Date, validitySeconds: number): KeyPair {
  const caCert = new X509Certificate(ca.cert);
  const caKey = createPrivateKey(ca.key);
  const { privateKey, publicKey } = newKey();
  const notAfter = new Date(Math.min(now.getTime() + validitySeconds * 1000, Date.parse(caCert.validTo)));
  const template = { commonName: hosts[0] ?? 'countersign', publicKey, notBefore: new Date(now.getTime() - BACKDATE_MS), notAfter, ca: false, hosts };
  const issuer = { commonName: commonNameOf(caCert), key: caKey, publicKey: createPublicKey(caKey) };
  return { cert: certificate(template, issuer), key: pkcs8(privateKey) };
}

export function commonNameOf(cert: X509Certificate): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1] ?? '';
}

/** Every certificate in a PEM bundle, in order; text that is not a certificate is skipped. */
export function splitPem(bundle: string): X509Certificate[] {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const certs: X509Certificate[] = [];
  for (const block of blocks) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      // A damaged block is dropped; the plan replaces what it cannot read.
    }
  }
  return certs;
}

export const toPem = (certs: readonly X509Certificate[]): string => certs.map((c) => c.toString()).join('');

/** The hosts a serving certificate names (DNS and IP SANs). */
export function hostsOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '').split(', ').filter((s) => s !== '').map((s) => s.replace(/^(DNS|IP Address):/, ''));
}
