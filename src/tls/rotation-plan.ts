// What the self-managed TLS material should be next, from what it is now and the time. Pure but for key minting.
//
// The apiserver trusts a bundle of CAs; a CA is rotated in three steps, each at least `propagationSeconds` apart so
// that the apiserver has the new bundle and every replica has reloaded before the next step relies on it:
//   1. a new CA joins the bundle (old+new trusted; serving certificates still from the old CA);
//   2. the new CA becomes the signer and the serving certificate is reissued from it;
//   3. the old CA leaves the bundle.
// At no point is a replica's serving certificate signed by a CA the apiserver does not trust.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createCa, hostsOf, issueServing, splitPem, toPem, type KeyPair } from './x509.js';

export interface TlsState {
  /** The CA that issues serving certificates. */
  signer?: KeyPair;
  /** A new CA, already trusted, not yet signing. */
  next?: KeyPair;
  /** PEM of every CA the apiserver is to trust (the webhook configuration's caBundle). */
  bundle: string;
  serving?: KeyPair;
  /** When the bundle or the signer last changed: the next step waits for it to propagate. */
  changedAt?: Date;
}

export interface TlsSettings {
  /** DNS names and IPv4 addresses the serving certificate must name; the first is its common name. */
  hosts: readonly string[];
  caValiditySeconds: number;
  certValiditySeconds: number;
  propagationSeconds: number;
}

export type TlsStepKind = 'created' | 'bundle-repaired' | 'ca-added' | 'ca-promoted' | 'ca-retired' | 'serving-issued';

export interface TlsStep {
  kind: TlsStepKind;
  text: string;
}

export interface TlsPlan {
  state: TlsState;
  /** What changed, for the log and metrics; empty when nothing did. */
  steps: TlsStep[];
}

const CA_NAME = 'countersign-webhook-ca';

function parse(pair: KeyPair | undefined): X509Certificate | undefined {
  if (pair === undefined) return undefined;
  try {
    const cert = new X509Certificate(pair.cert);
    return cert.checkPrivateKey(createPrivateKey(pair.key)) ? cert : undefined;
  } catch {
    return undefined;
  }
}

const remainingMs = (cert: X509Certificate, now: Date): number => Date.parse(cert.validTo) - now.getTime();
const lifetimeMs = (cert: X509Certificate): number => Date.parse(cert.validTo) - Date.parse(cert.validFrom);
const usableCa = (cert: X509Certificate | undefined, now: Date): cert is X509Certificate => cert !== undefined && cert.ca && remainingMs(cert, now) > 0;

function fresh(now: Date, settings: TlsSettings, why: string): TlsPlan {
  const signer = createCa(CA_NAME, now, settings.caValiditySeconds);
  const serving = issueServing(signer, settings.hosts, now, settings.certValiditySeconds);
  return { state: { signer, bundle: signer.cert, serving, changedAt: now }, steps: [{ kind: 'created', text: `created a new CA and serving certificate (${why})` }] };
}

function servingProblem(state: TlsState, signer: X509Certificate, now: Date, settings: TlsSettings): string | undefined {
  const serving = parse(state.serving);
  if (serving === undefined) return 'no usable serving certificate';
  if (!serving.checkIssued(signer) || !serving.verify(signer.publicKey)) return 'the serving certificate is not from the current CA';
  if (remainingMs(serving, now) < (settings.certValiditySeconds * 1000) / 3) return 'the serving certificate is due for renewal';
  const hosts = hostsOf(serving);
  if (hosts.length !== settings.hosts.length || settings.hosts.some((h) => !hosts.includes(h))) return 'the serving certificate names other hosts';
  return undefined;
}

/** The trusted CAs, cleaned: unreadable and expired ones dropped, the signer and the next CA always present. */
function trusted(state: TlsState, signer: X509Certificate, next: X509Certificate | undefined, now: Date): X509Certificate[] {
  const kept = splitPem(state.bundle).filter((c) => c.ca && remainingMs(c, now) > 0);
  for (const needed of [signer, next]) {
    if (needed !== undefined && !kept.some((c) => c.fingerprint256 === needed.fingerprint256)) kept.push(needed);
  }
  return kept;
}

type SignedPlan = TlsPlan & { state: { signer: KeyPair } };

interface Clock {
  now: Date;
  /** False while the webhook configuration does not yet hold the stored bundle: no step may rely on it. */
  bundlePublished: boolean;
}

function rotate(state: TlsState & { signer: KeyPair }, signer: X509Certificate, { now, bundlePublished }: Clock, settings: TlsSettings): SignedPlan {
  const { next: nextPair, ...current } = state;
  const next = usableCa(parse(nextPair), now) ? nextPair : undefined;
  const bundle = trusted(state, signer, next === undefined ? undefined : new X509Certificate(next.cert), now);
  const base = { ...current, ...(next === undefined ? {} : { next }), bundle: toPem(bundle) };
  if (toPem(bundle) !== toPem(splitPem(state.bundle))) {
    // A CA the apiserver did not trust yet was added, or an expired one dropped: the next step waits.
    return { state: { ...base, changedAt: now }, steps: [{ kind: 'bundle-repaired', text: 'added the signing CA to the bundle or dropped an expired one' }] };
  }
  const waited = bundlePublished && now.getTime() - (state.changedAt?.getTime() ?? 0) >= settings.propagationSeconds * 1000;
  if (next !== undefined) {
    if (!waited) return { state: base, steps: [] };
    return { state: { ...current, bundle: base.bundle, signer: next, changedAt: now }, steps: [{ kind: 'ca-promoted', text: 'the new CA now signs serving certificates' }] };
  }
  if (bundle.some((c) => c.fingerprint256 !== signer.fingerprint256)) {
    if (!waited) return { state: base, steps: [] };
    return { state: { ...base, bundle: signer.toString(), changedAt: now }, steps: [{ kind: 'ca-retired', text: 'the old CA left the bundle' }] };
  }
  if (remainingMs(signer, now) < lifetimeMs(signer) / 3) {
    const created = createCa(CA_NAME, now, settings.caValiditySeconds);
    return { state: { ...base, next: created, bundle: toPem([signer, new X509Certificate(created.cert)]), changedAt: now }, steps: [{ kind: 'ca-added', text: 'a new CA joined the bundle' }] };
  }
  return { state: base, steps: [] };
}

export function planTls(state: TlsState, now: Date, settings: TlsSettings, bundlePublished = true): TlsPlan {
  const signer = parse(state.signer);
  if (state.signer === undefined || !usableCa(signer, now)) return fresh(now, settings, state.signer === undefined ? 'none yet' : 'the CA is unusable or expired');
  const rotated = rotate({ ...state, signer: state.signer }, signer, { now, bundlePublished }, settings);
  const current = new X509Certificate(rotated.state.signer.cert);
  const problem = servingProblem(rotated.state, current, now, settings);
  if (problem === undefined) return rotated;
  const serving = issueServing(rotated.state.signer, settings.hosts, now, settings.certValiditySeconds);
  return { state: { ...rotated.state, serving }, steps: [...rotated.steps, { kind: 'serving-issued', text: `issued a serving certificate (${problem})` }] };
}
