// Verifies approval audit trails in a log, pure: lines in, a verdict out. Lines without an `audit` object are
// skipped; each chain (by its id) is followed from its chain-start; the first break is reported with its line and
// why. Given the anchors Kubernetes Events carry, it also finds records deleted from a chain's end, and chains
// rewritten wholesale, up to the newest anchored record. See README "Audit log".
import { ANCHOR_ANNOTATIONS, chainIdOf, hashOf, type AuditAnchor, type AuditRecord } from './chain.js';
import { present } from '../kube/present.js';

/** An anchor and where it came from (the Event's name), for the report. */
export interface SourcedAnchor extends AuditAnchor {
  source: string;
  replica?: string;
}

export type BreakKind = 'malformed' | 'edited' | 'missing' | 'reordered' | 'duplicated' | 'replaced' | 'truncated' | 'absent' | 'mismatch';

export interface ChainSummary {
  chain: string;
  replica: string;
  startedAt: string;
  /** Records in the chain (chain-start included); their seqs run 0..records-1. */
  records: number;
  byEvent: Record<string, number>;
  /** The newest anchored seq, when anchors were given for this chain. */
  anchoredTo?: number;
}

export interface Verdict {
  ok: boolean;
  /** The first break, when not ok. */
  broken?: { kind: BreakKind; line?: number; reason: string };
  chains: ChainSummary[];
  records: number;
  skipped: number;
  anchors: number;
}

interface Entry {
  line: number;
  record: AuditRecord;
}

interface ChainState {
  summary: ChainSummary;
  last: Entry;
  /** Every record seen so far by seq: its line and hash. */
  seen: Map<number, Entry>;
}

class Break extends Error {
  constructor(readonly kind: BreakKind, readonly reason: string, readonly line?: number) {
    super(reason);
  }
}

function short(hash: string): string {
  return hash.replace(/^sha256:/, '').slice(0, 12);
}

function isRecord(value: unknown): value is AuditRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  return typeof r.chain === 'string' && typeof r.prev === 'string' && typeof r.hash === 'string' && typeof r.event === 'string' &&
    typeof r.at === 'string' && typeof r.seq === 'number' && Number.isSafeInteger(r.seq) && r.seq >= 0;
}

/** An audit record, undefined for a line that is not one, or a Break for a line that claims to be one and is not. */
function parseLine(text: string, line: number): AuditRecord | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    if (trimmed.includes('"audit"')) throw new Break('malformed', `line ${line} is an audit line that is not valid JSON (cut short or edited)`, line);
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || !('audit' in parsed)) return undefined;
  const { audit } = parsed;
  if (!isRecord(audit)) throw new Break('malformed', `line ${line} has an audit object without chain, seq, prev, at, event and hash`, line);
  return audit;
}

function where(entry: Entry): string {
  return `line ${entry.line} (chain ${short(entry.record.chain)} seq ${entry.record.seq}, ${entry.record.event})`;
}

/** Every audit record in the lines, in order, and how many lines were something else. */
function collect(lines: readonly string[]): { entries: Entry[]; skipped: number } {
  const entries: Entry[] = [];
  let skipped = 0;
  lines.forEach((text, index) => {
    const record = parseLine(text, index + 1);
    if (record === undefined) {
      if (text.trim() !== '') skipped += 1;
    } else {
      entries.push({ line: index + 1, record });
    }
  });
  return { entries, skipped };
}

/** Where each chain's seqs occur: to tell records out of order from records gone. */
function occurrences(entries: readonly Entry[]): Map<string, Map<number, number[]>> {
  const out = new Map<string, Map<number, number[]>>();
  for (const { line, record } of entries) {
    const bySeq = out.get(record.chain) ?? new Map<number, number[]>();
    bySeq.set(record.seq, [...(bySeq.get(record.seq) ?? []), line]);
    out.set(record.chain, bySeq);
  }
  return out;
}

function laterLine(occurs: Map<string, Map<number, number[]>>, chain: string, seq: number, after: number): number | undefined {
  return occurs.get(chain)?.get(seq)?.find((line) => line > after);
}

function startOf(entry: Entry, occurs: Map<string, Map<number, number[]>>): ChainState {
  const { record, line } = entry;
  if (record.seq !== 0 || record.event !== 'chain-start') {
    const head = laterLine(occurs, record.chain, 0, line);
    if (head !== undefined) throw new Break('reordered', `${where(entry)} comes before its chain's start at line ${head}: lines were reordered`, line);
    throw new Break('missing', `${where(entry)} is the first record of its chain in the log: seq 0 to ${record.seq - 1}, chain-start included, are missing (deleted)`, line);
  }
  const replica = typeof record.replica === 'string' ? record.replica : '';
  const nonce = typeof record.nonce === 'string' ? record.nonce : '';
  if (record.prev !== record.chain || chainIdOf(replica, nonce) !== record.chain) {
    throw new Break('malformed', `${where(entry)}: the chain id is not the one its replica and nonce give`, line);
  }
  const summary: ChainSummary = { chain: record.chain, replica, startedAt: record.at, records: 1, byEvent: { 'chain-start': 1 } };
  return { summary, last: entry, seen: new Map([[0, entry]]) };
}

/** A record whose seq is not the next one: a duplicate, a reordering, or records gone. */
function outOfSequence(entry: Entry, state: ChainState, occurs: Map<string, Map<number, number[]>>): Break {
  const { record, line } = entry;
  const expected = state.last.record.seq + 1;
  if (record.seq < expected) {
    const earlier = state.seen.get(record.seq);
    if (earlier !== undefined && earlier.record.hash === record.hash) return new Break('duplicated', `${where(entry)} repeats line ${earlier.line}`, line);
    return new Break('reordered', `${where(entry)} comes after seq ${state.last.record.seq} (line ${state.last.line}): lines were reordered or a record was inserted`, line);
  }
  const later = laterLine(occurs, record.chain, expected, line);
  if (later !== undefined) return new Break('reordered', `${where(entry)} comes before seq ${expected} (line ${later}): lines were reordered`, line);
  const gone = record.seq - 1 === expected ? `seq ${expected} is` : `seq ${expected} to ${record.seq - 1} are`;
  return new Break('missing', `${where(entry)} follows seq ${state.last.record.seq} (line ${state.last.line}): ${gone} missing (deleted)`, line);
}

function follow(entry: Entry, state: ChainState, occurs: Map<string, Map<number, number[]>>): void {
  const { record, line } = entry;
  if (record.seq !== state.last.record.seq + 1) throw outOfSequence(entry, state, occurs);
  if (record.prev !== state.last.record.hash) {
    throw new Break('replaced', `${where(entry)} does not follow line ${state.last.line}: its prev is not that record's hash, so a record before it was replaced`, line);
  }
  state.last = entry;
  state.seen.set(record.seq, entry);
  state.summary.records += 1;
  state.summary.byEvent[record.event] = (state.summary.byEvent[record.event] ?? 0) + 1;
}

/** Follows every chain through the entries, into `chains`; throws at the first break. */
function walk(entries: readonly Entry[], chains: Map<string, ChainState>): void {
  const occurs = occurrences(entries);
  for (const entry of entries) {
    if (hashOf(entry.record) !== entry.record.hash) {
      throw new Break('edited', `${where(entry)} was edited: its hash does not match its content`, entry.line);
    }
    const state = chains.get(entry.record.chain);
    if (state === undefined) chains.set(entry.record.chain, startOf(entry, occurs));
    else follow(entry, state, occurs);
  }
}

/** Each anchor must name a record in the log with the very hash the Event recorded. */
function checkAnchors(chains: Map<string, ChainState>, anchors: readonly SourcedAnchor[]): void {
  for (const anchor of [...anchors].sort((a, b) => a.seq - b.seq)) {
    const state = chains.get(anchor.chain);
    const label = `Event ${anchor.source} vouches for chain ${short(anchor.chain)}${anchor.replica === undefined ? '' : ` (replica ${anchor.replica})`} seq ${anchor.seq}`;
    if (state === undefined) throw new Break('absent', `${label}, but no record of that chain is in the log (deleted, or another replica's log is missing)`);
    const last = state.last;
    if (anchor.seq > last.record.seq) {
      throw new Break('truncated', `${label}, but the chain ends at seq ${last.record.seq} (line ${last.line}): records after it were deleted (truncated)`, last.line);
    }
    const entry = state.seen.get(anchor.seq);
    if (entry?.record.hash !== anchor.hash) {
      throw new Break('mismatch', `${label} with hash ${short(anchor.hash)}, but line ${entry?.line ?? '?'} has ${short(entry?.record.hash ?? '')}: the chain was rewritten`, entry?.line);
    }
    state.summary.anchoredTo = Math.max(state.summary.anchoredTo ?? 0, anchor.seq);
  }
}

export function verifyAuditLog(lines: readonly string[], anchors: readonly SourcedAnchor[] = []): Verdict {
  const summaries = (chains: Map<string, ChainState>): ChainSummary[] => [...chains.values()].map((c) => c.summary);
  let collected: { entries: Entry[]; skipped: number } = { entries: [], skipped: 0 };
  const chains = new Map<string, ChainState>();
  try {
    collected = collect(lines);
    walk(collected.entries, chains);
    checkAnchors(chains, anchors);
    return { ok: true, chains: summaries(chains), records: collected.entries.length, skipped: collected.skipped, anchors: anchors.length };
  } catch (error: unknown) {
    if (!(error instanceof Break)) throw error;
    const broken = { kind: error.kind, reason: error.reason, ...present({ line: error.line }) };
    return { ok: false, broken, chains: summaries(chains), records: collected.entries.length, skipped: collected.skipped, anchors: anchors.length };
  }
}

/** The Event's anchor, undefined when it has none, or what is wrong with the one it has. */
function anchorOfEvent(item: unknown): SourcedAnchor | { problem: string } | undefined {
  const metadata = (item as { metadata?: { name?: unknown; annotations?: Record<string, unknown> } } | null)?.metadata;
  const notes = metadata?.annotations ?? {};
  const [chain, seq, hash, replica] = [notes[ANCHOR_ANNOTATIONS.chain], notes[ANCHOR_ANNOTATIONS.seq], notes[ANCHOR_ANNOTATIONS.hash], notes[ANCHOR_ANNOTATIONS.replica]];
  if (chain === undefined && seq === undefined && hash === undefined) return undefined;
  const source = typeof metadata?.name === 'string' ? metadata.name : '(unnamed)';
  if (typeof chain !== 'string' || typeof hash !== 'string' || typeof seq !== 'string' || !/^(0|[1-9][0-9]{0,14})$/.test(seq)) {
    return { problem: `Event ${source} carries a malformed audit anchor` };
  }
  return { chain, seq: Number(seq), hash, source, ...(typeof replica === 'string' ? { replica } : {}) };
}

/**
 * The anchors in Kubernetes Events (`kubectl get events -n countersign -o json`: a List, an array or one Event);
 * Events without the annotations are skipped. Problems are anchors that do not parse.
 */
export function anchorsFromEvents(value: unknown): { anchors: SourcedAnchor[]; problems: string[] } {
  const list = value as { items?: unknown } | null;
  const items = Array.isArray(value) ? (value as unknown[]) : Array.isArray(list?.items) ? (list.items as unknown[]) : [value];
  const anchors: SourcedAnchor[] = [];
  const problems: string[] = [];
  for (const item of items) {
    const anchor = anchorOfEvent(item);
    if (anchor === undefined) continue;
    if ('problem' in anchor) problems.push(anchor.problem);
    else anchors.push(anchor);
  }
  return { anchors, problems };
}

function describeChain(chain: ChainSummary, withAnchors: boolean): string {
  const events = Object.entries(chain.byEvent).map(([event, n]) => `${event} ${n}`).join(', ');
  const head = `  chain ${short(chain.chain)} (replica ${chain.replica}, started ${chain.startedAt}): ${chain.records} records, seq 0-${chain.records - 1}: ${events}`;
  if (!withAnchors) return head;
  const last = chain.records - 1;
  if (chain.anchoredTo === undefined) return `${head}\n    no Event vouches for this chain: deleting its tail would not be detected`;
  const after = last - chain.anchoredTo;
  return `${head}\n    vouched for by Events up to seq ${chain.anchoredTo}${after === 0 ? '' : `; the ${after} record(s) after it are not`}`;
}

/** The verdict for people (what audit-verify prints). */
export function formatVerdict(verdict: Verdict): string {
  const anchors = verdict.anchors > 0 ? `, ${verdict.anchors} Event anchor(s) checked` : '';
  const counts = `${verdict.records} audit records in ${verdict.chains.length} chain(s), ${verdict.skipped} other line(s) skipped${anchors}`;
  const chains = verdict.chains.map((c) => describeChain(c, verdict.anchors > 0));
  if (verdict.ok) return [`audit log intact: ${counts}`, ...chains].join('\n');
  const at = verdict.broken?.line === undefined ? '' : ` at line ${verdict.broken.line}`;
  const followed = verdict.chains.reduce((sum, c) => sum + c.records, 0);
  return [
    `audit log BROKEN${at} (${verdict.broken?.kind ?? '?'}): ${verdict.broken?.reason ?? ''}`,
    `${verdict.records} audit records in the log; ${followed} followed intact in ${verdict.chains.length} chain(s) before the break`,
  ].join('\n');
}
