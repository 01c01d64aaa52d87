// The approval audit trail's hash chain, pure: each record names the previous record's hash (`prev`) and its own
// place (`seq`), and its `hash` is SHA-256 over the canonical JSON of everything else in it. A process starts its own
// chain with a `chain-start` record whose `prev` is the chain's id, derived from a random nonce and the replica's
// name; replicas never share a chain. Verification lives in audit-verify.ts.
import { sha256Digest } from '../core/digest.js';

/** What a record can say besides its chain fields: plain values only, so what is hashed survives a JSON round trip. */
export type AuditValue = string | number | boolean | string[];
export type AuditFields = Record<string, AuditValue | undefined>;

/** The approval lifecycle steps Countersign records. */
export const AUDIT_EVENTS = [
  'chain-start',
  'request-recorded',
  'request-expired',
  'approval-admitted',
  'rejection-admitted',
  'approval-refused',
  'approval-used',
  'approval-wasted',
  'quota-used',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** A record before it is sealed with its hash. */
export interface AuditBody {
  chain: string;
  seq: number;
  prev: string;
  at: string;
  event: string;
  [field: string]: unknown;
}

export interface AuditRecord extends AuditBody {
  hash: string;
}

/** Where a record sits in its chain: what a Kubernetes Event carries to vouch for the log from outside it. */
export interface AuditAnchor {
  chain: string;
  seq: number;
  hash: string;
}

/** The annotations on a Kubernetes Event that anchor an audit record (the replica names whose log to look in). */
export const ANCHOR_ANNOTATIONS = {
  chain: 'countersign.dev/audit-chain',
  seq: 'countersign.dev/audit-seq',
  hash: 'countersign.dev/audit-hash',
  replica: 'countersign.dev/audit-replica',
} as const;

/** The annotations an Event carries to anchor the record at `anchor` in `replica`'s chain. */
export function anchorAnnotations(anchor: AuditAnchor & { replica: string }): Record<string, string> {
  return {
    [ANCHOR_ANNOTATIONS.chain]: anchor.chain, [ANCHOR_ANNOTATIONS.seq]: String(anchor.seq),
    [ANCHOR_ANNOTATIONS.hash]: anchor.hash, [ANCHOR_ANNOTATIONS.replica]: anchor.replica,
  };
}

const RESERVED = new Set(['chain', 'seq', 'prev', 'at', 'event', 'hash']);

/** A chain's id: not chosen, derived from its start, so the chain-start record vouches for it. */
export function chainIdOf(replica: string, nonce: string): string {
  return sha256Digest({ replica, nonce });
}

/** The hash a record must carry: over every field but `hash` itself, `chain`, `seq` and `prev` included. */
export function hashOf(record: Record<string, unknown>): string {
  const { hash: _ignored, ...body } = record;
  return sha256Digest(body);
}

function sealed(body: AuditBody): AuditRecord {
  return { ...body, hash: hashOf(body) };
}

function plainFields(fields: AuditFields): Record<string, AuditValue> {
  const out: Record<string, AuditValue> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (value !== undefined && !RESERVED.has(key)) out[key] = value;
  }
  return out;
}

/** The first record of a process's chain. */
export function startChain(start: { replica: string; nonce: string; at: Date; fields?: AuditFields }): AuditRecord {
  const chain = chainIdOf(start.replica, start.nonce);
  return sealed({ chain, seq: 0, prev: chain, at: start.at.toISOString(), event: 'chain-start', ...plainFields(start.fields ?? {}), replica: start.replica, nonce: start.nonce });
}

/** The record after `last` in its chain. */
export function nextRecord(last: AuditAnchor, step: { event: AuditEvent; at: Date; fields: AuditFields }): AuditRecord {
  return sealed({ chain: last.chain, seq: last.seq + 1, prev: last.hash, at: step.at.toISOString(), event: step.event, ...plainFields(step.fields) });
}

export function anchorOf(record: AuditRecord): AuditAnchor {
  return { chain: record.chain, seq: record.seq, hash: record.hash };
}
