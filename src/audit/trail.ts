// The approval audit trail of one process: one JSON log line per lifecycle step (`"msg":"audit"` with an `audit`
// object), hash-chained (audit-chain.ts). Written at info whatever --log-level says: the trail is not optional.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { anchorOf, nextRecord, startChain, type AuditAnchor, type AuditEvent, type AuditFields, type AuditRecord } from './chain.js';

export interface AuditTrail {
  /** The replica whose chain this is (the host name: the pod's name in a cluster). */
  readonly replica: string;
  /** Appends one record to the chain and writes its line; where it sits in the chain, for an Event to vouch for it. */
  record(event: AuditEvent, fields: AuditFields): AuditAnchor;
}

export interface AuditTrailOptions {
  replica?: string;
  nonce?: string;
  now?: () => Date;
  /** Written into the chain-start record (version, pid). */
  start?: AuditFields;
}

/** Starts this process's chain (its chain-start line is written at once) and returns the trail that extends it. */
export function auditTrail(log: Logger, options: AuditTrailOptions = {}): AuditTrail {
  // Only a logger made silent on purpose (tests) silences the trail.
  const out = log.level === 'silent' ? log : log.child({}, { level: 'info' });
  const now = options.now ?? ((): Date => new Date());
  // A pod's host name is its name.
  const replica = options.replica ?? hostname();
  const write = (record: AuditRecord): AuditAnchor => {
    out.info({ msg: 'audit', audit: record });
    return anchorOf(record);
  };
  let last = write(startChain({ replica, nonce: options.nonce ?? randomBytes(16).toString('hex'), at: now(), fields: { pid: process.pid, ...options.start } }));
  return {
    replica,
    record(event, fields) {
      // Synchronous from reading `last` to writing: the order of lines is the order of the chain.
      last = write(nextRecord(last, { event, at: now(), fields }));
      return last;
    },
  };
}
