// The self-managed TLS state as a kubernetes.io/tls Secret: tls.crt/tls.key serve, ca.crt is the trusted bundle,
// the signing (and next) CA's key pairs sit beside them. The Secret lives in Countersign's namespace, which agents
// cannot touch (the self-defence policy) and which doctor reports rights to.
import type { KeyPair } from './x509.js';
import type { TlsState } from './rotation-plan.js';

export const CHANGED_AT_ANNOTATION = 'countersign.dev/tls-changed-at';

export interface SecretParts {
  data: Record<string, string>;
  annotations: Record<string, string>;
}

const KEYS = {
  serving: ['tls.crt', 'tls.key'],
  signer: ['ca-signer.crt', 'ca-signer.key'],
  next: ['ca-next.crt', 'ca-next.key'],
} as const;

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const text = (value: string | undefined): string | undefined => (value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8'));

function pairFrom(data: Record<string, string>, [certKey, keyKey]: readonly [string, string]): KeyPair | undefined {
  const cert = text(data[certKey]);
  const key = text(data[keyKey]);
  return cert === undefined || key === undefined ? undefined : { cert, key };
}

export function stateFromSecret({ data, annotations }: SecretParts): TlsState {
  const changed = Date.parse(annotations[CHANGED_AT_ANNOTATION] ?? '');
  const state: TlsState = { bundle: text(data['ca.crt']) ?? '' };
  for (const part of ['serving', 'signer', 'next'] as const) {
    const pair = pairFrom(data, KEYS[part]);
    if (pair !== undefined) state[part] = pair;
  }
  if (!Number.isNaN(changed)) state.changedAt = new Date(changed);
  return state;
}

export function secretFromState(state: TlsState): SecretParts {
  const data: Record<string, string> = { 'ca.crt': b64(state.bundle) };
  for (const part of ['serving', 'signer', 'next'] as const) {
    const pair = state[part];
    if (pair === undefined) continue;
    const [certKey, keyKey] = KEYS[part];
    data[certKey] = b64(pair.cert);
    data[keyKey] = b64(pair.key);
  }
  return { data, annotations: state.changedAt === undefined ? {} : { [CHANGED_AT_ANNOTATION]: state.changedAt.toISOString() } };
}
