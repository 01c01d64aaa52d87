// What the self-managed TLS material should be next, from what it is now and the time. Pure but for key minting.
//
// The apiserver trusts a bundle of CAs; a CA is rotated in three steps, each at least `propagationSeconds` apart and
// only while the webhook configuration holds the stored bundle, so that the apiserver has the new bundle and every
// replica has reloaded before the next step relies on it:
//   1. a new CA joins the bundle (old+new trusted; serving certificates still from the old CA);
//   2. the new CA becomes the signer and the serving certificate is reissued from it;
//   3. the old CA leaves the bundle.
// Damage (a lost or mangled signer, an expired CA, a hand-edited bundle) is repaired the same way whenever the
// serving certificate in use is still trusted: nothing the apiserver trusts now is dropped in one step.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createCa, hostsOf, issueServing, splitPem, toPem, type KeyPair } from './x509.js';

export interface TlsState {
  /** The CA that issues serving certificates (absent while a lost one is being replaced). */
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

export type TlsStepKind = 'created' | 'bundle-repaired' | 'clock-repaired' | 'ca-added' | 'ca-promoted' | 'ca-retired' | 'serving-issued';

export interface TlsStep {
  kind: TlsStepKind;
  text: string;
}

export interface TlsPlan {
  state: TlsState;
  /** What changed, for the log and metrics; empty when nothing did. */
  steps: TlsStep[];
}

interface Context {
  now: Date;
  settings: TlsSettings;
  /** False while the webhook configuration does not hold the stored bundle: no step may rely on it. */
  bundlePublished: boolean;
}

const CA_NAME = 'countersign-webhook-ca';
// A step dated further ahead than this was written by a clock far ahead, or by hand: counted from now instead.
const FUTURE_TOLERANCE_MS = 5 * 60_000;

const step = (kind: TlsStepKind, text: string): TlsStep => ({ kind, text });
const ms = (seconds: number): number => seconds * 1000;
const validTo = (cert: X509Certificate): number => Date.parse(cert.validTo);
const validNow = (cert: X509Certificate, now: Date): boolean => Date.parse(cert.validFrom) <= now.getTime() && now.getTime() < validTo(cert);

function parse(pair: KeyPair | undefined): X509Certificate | undefined {
  if (pair === undefined) return undefined;
  try {
    const cert = new X509Certificate(pair.cert);
    return cert.checkPrivateKey(createPrivateKey(pair.key)) ? cert : undefined;
  } catch {
    return undefined;
  }
}

function usableCa(pair: KeyPair | undefined, now: Date): X509Certificate | undefined {
  const cert = parse(pair);
  return cert !== undefined && cert.ca && validNow(cert, now) ? cert : undefined;
}

const holds = (cas: readonly X509Certificate[], cert: X509Certificate): boolean => cas.some((c) => c.fingerprint256 === cert.fingerprint256);

/** The CAs of a bundle still worth trusting: readable, CAs, not expired, each once. */
function liveCas(bundle: string, now: Date): X509Certificate[] {
  const kept: X509Certificate[] = [];
  for (const cert of splitPem(bundle)) {
    if (cert.ca && validTo(cert) > now.getTime() && !holds(kept, cert)) kept.push(cert);
  }
  return kept;
}

const withCa = (cas: readonly X509Certificate[], cert: X509Certificate): X509Certificate[] => (holds(cas, cert) ? [...cas] : [...cas, cert]);

/** The serving certificate in use, if it is valid and one of `cas` vouches for it. */
function trustedServing(state: TlsState, cas: readonly X509Certificate[], now: Date): X509Certificate | undefined {
  const serving = parse(state.serving);
  if (serving === undefined || !validNow(serving, now)) return undefined;
  return cas.some((ca) => validNow(ca, now) && serving.checkIssued(ca) && serving.verify(ca.publicKey)) ? serving : undefined;
}

function waited(state: TlsState, { now, settings, bundlePublished }: Context): boolean {
  return bundlePublished && now.getTime() - (state.changedAt?.getTime() ?? 0) >= ms(settings.propagationSeconds);
}

function issue(signer: KeyPair, ctx: Context): KeyPair {
  return issueServing(signer, ctx.settings.hosts, ctx.now, ctx.settings.certValiditySeconds);
}

/** No usable signer: promote a trusted next CA, or bring a new one in beside what is trusted, or start over. */
function recover(state: TlsState, ctx: Context, why: string): TlsPlan {
  const { now } = ctx;
  const live = liveCas(state.bundle, now);
  const servingOk = trustedServing(state, live, now) !== undefined;
  const nextCert = usableCa(state.next, now);
  const next = nextCert === undefined ? undefined : state.next;
  if (next !== undefined && nextCert !== undefined && holds(live, nextCert) && (waited(state, ctx) || !servingOk)) {
    const { next: _promoted, ...rest } = state;
    return {
      state: { ...rest, signer: next, bundle: toPem(live), serving: issue(next, ctx), changedAt: now },
      steps: [step('ca-promoted', `the new CA now signs (${why})`), step('serving-issued', 'issued a serving certificate from the new CA')],
    };
  }
  if (servingOk) {
    // The apiserver still trusts what is served: replace the signer through the usual steps, dropping nothing.
    if (next !== undefined && nextCert !== undefined) return { state: { ...state, bundle: toPem(withCa(live, nextCert)) }, steps: [] };
    const created = createCa(CA_NAME, now, ctx.settings.caValiditySeconds);
    const { signer: _lost, ...rest } = state;
    return {
      state: { ...rest, next: created, bundle: toPem(withCa(live, new X509Certificate(created.cert))), changedAt: now },
      steps: [step('ca-added', `a new CA joined the bundle (${why}); the current serving certificate keeps serving`)],
    };
  }
  // Nothing served is trusted any more (first start, or everything expired): start over, keeping what is trusted.
  const signer = createCa(CA_NAME, now, ctx.settings.caValiditySeconds);
  return {
    state: { signer, bundle: toPem(withCa(live, new X509Certificate(signer.cert))), serving: issue(signer, ctx), changedAt: now },
    steps: [step('created', `created a new CA and serving certificate (${why})`)],
  };
}

type SignedState = TlsState & { signer: KeyPair };

/** The signer is fine: the three rotation steps, or the bundle repaired to hold it. */
function rotate(state: SignedState, signer: X509Certificate, ctx: Context): { state: SignedState; steps: TlsStep[] } {
  const { now, settings } = ctx;
  const { next: nextPair, ...current } = state;
  const nextCert = usableCa(nextPair, now);
  const stored = liveCas(state.bundle, now);
  let bundle = withCa(stored, signer);
  if (nextCert !== undefined) bundle = withCa(bundle, nextCert);
  const base = { ...current, ...(nextCert === undefined || nextPair === undefined ? {} : { next: nextPair }), bundle: toPem(bundle) };
  if (toPem(bundle) !== toPem(splitPem(state.bundle))) {
    // A CA the apiserver did not trust yet was added, or an expired or duplicate one dropped: the next step waits.
    return { state: { ...base, changedAt: now }, steps: [step('bundle-repaired', 'added the signing CA to the bundle or dropped an expired one')] };
  }
  if (nextCert !== undefined && nextPair !== undefined) {
    if (!waited(state, ctx)) return { state: base, steps: [] };
    return { state: { ...current, bundle: base.bundle, signer: nextPair, changedAt: now }, steps: [step('ca-promoted', 'the new CA now signs serving certificates')] };
  }
  if (bundle.some((c) => c.fingerprint256 !== signer.fingerprint256)) {
    if (!waited(state, ctx)) return { state: base, steps: [] };
    return { state: { ...base, bundle: signer.toString(), changedAt: now }, steps: [step('ca-retired', 'the old CA left the bundle')] };
  }
  if (validTo(signer) - now.getTime() < ms(settings.caValiditySeconds) / 3) {
    const created = createCa(CA_NAME, now, settings.caValiditySeconds);
    return { state: { ...base, next: created, bundle: toPem([signer, new X509Certificate(created.cert)]), changedAt: now }, steps: [step('ca-added', 'a new CA joined the bundle')] };
  }
  return { state: base, steps: [] };
}

function servingProblem(state: TlsState, signer: X509Certificate, ctx: Context): string | undefined {
  const { now, settings } = ctx;
  const serving = parse(state.serving);
  if (serving === undefined || !validNow(serving, now)) return 'no usable serving certificate';
  if (!serving.checkIssued(signer) || !serving.verify(signer.publicKey)) return 'the serving certificate is not from the current CA';
  // Renewal is due in the last third, but only if a new certificate would outlive the old one (never past the CA).
  const longest = Math.min(now.getTime() + ms(settings.certValiditySeconds), validTo(signer));
  if (validTo(serving) - now.getTime() < ms(settings.certValiditySeconds) / 3 && longest > validTo(serving) + 1000) return 'the serving certificate is due for renewal';
  const hosts = hostsOf(serving);
  if (settings.hosts.some((h) => !hosts.includes(h))) return 'the serving certificate does not name every host';
  return undefined;
}

function repairClock(state: TlsState, now: Date): TlsPlan {
  if (state.changedAt === undefined || state.changedAt.getTime() <= now.getTime() + FUTURE_TOLERANCE_MS) return { state, steps: [] };
  return {
    state: { ...state, changedAt: now },
    steps: [step('clock-repaired', `the last step is dated ${state.changedAt.toISOString()}, in the future (a clock ahead, or an edit); counting from now`)],
  };
}

export function planTls(state: TlsState, now: Date, settings: TlsSettings, bundlePublished = true): TlsPlan {
  const ctx = { now, settings, bundlePublished };
  const clock = repairClock(state, now);
  const signer = usableCa(clock.state.signer, now);
  if (clock.state.signer === undefined || signer === undefined) {
    const why = clock.state.signer === undefined ? 'no signing CA' : 'the signing CA is unusable or expired';
    const recovered = recover(clock.state, ctx, why);
    return { state: recovered.state, steps: [...clock.steps, ...recovered.steps] };
  }
  const rotated = rotate({ ...clock.state, signer: clock.state.signer }, signer, ctx);
  const steps = [...clock.steps, ...rotated.steps];
  const current = new X509Certificate(rotated.state.signer.cert);
  const problem = servingProblem(rotated.state, current, ctx);
  // A signer the apiserver is only now hearing of must not sign what is served, unless nothing served is trusted.
  const trustedBefore = liveCas(state.bundle, now);
  const mustWait = !holds(trustedBefore, current) && trustedServing(rotated.state, trustedBefore, now) !== undefined;
  if (problem === undefined || mustWait) return { state: rotated.state, steps };
  return { state: { ...rotated.state, serving: issue(rotated.state.signer, ctx) }, steps: [...steps, step('serving-issued', `issued a serving certificate (${problem})`)] };
}
