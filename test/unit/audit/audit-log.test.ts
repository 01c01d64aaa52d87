// The approval audit trail: the hash-chained lines the real edge writes as approvals live their lives, the Events
// that anchor them, and the verifier finding each kind of tampering (and saying what it cannot find).
import { describe, expect, it } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { QUOTA_LABEL, requesterLabelValue } from '../../../src/approvals/types.js';
import { anchorAnnotations, chainIdOf, hashOf, startChain, type AuditRecord } from '../../../src/audit/chain.js';
import { auditTrail, type AuditTrail } from '../../../src/audit/trail.js';
import { anchorsFromEvents, verifyAuditLog, type SourcedAnchor } from '../../../src/audit/verify.js';
import { createLogger } from '../../../src/observability/logger.js';
import { auditVerifyCommand } from '../../../src/cli/audit-verify.js';
import { applyApprovalGate } from '../../../src/approvals/approval-gate.js';
import { approval, approve, creating, deps as gateDeps, gated, NOW } from '../../helpers/approval-flow.js';
import { defaultJudge, heldOutReview, judgeFrom, namespaceNamed, offline } from '../../helpers/fixtures.js';
import { memoryStore, type MemoryStore } from '../../helpers/memory-store.js';
import { edgeDeps, review } from '../../helpers/metrics.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLI = join(HERE, '..', '..', '..', 'dist', 'cli', 'main.js');
const CODER = 'system:serviceaccount:agents:coder';
const LATER = new Date(NOW.getTime() + 2 * 86_400_000);

/** A log that keeps its lines: decision lines and audit lines, as a replica's stdout would hold them. */
function capturedLog(lines: string[]): ReturnType<typeof createLogger> {
  return createLogger('info', { write: (text: string) => { lines.push(...text.split('\n').filter((l) => l !== '')); } });
}

function podDelete(name: string): AdmissionRequest {
  const request = heldOutReview('agent-deletecollection-item-production-pod').request;
  request.uid = `uid-${name}`;
  request.oldObject = { ...request.oldObject, metadata: { ...request.oldObject?.metadata, name, uid: `pod-${name}` } };
  return request;
}

/** The request recorded last, as an approval names it. */
function newest(store: MemoryStore): { requestName: string; digest: string } {
  const found = [...store.requests.values()].at(-1);
  if (found === undefined) throw new Error('no request recorded');
  return { requestName: found.metadata.name, digest: found.spec.digest };
}

interface Story {
  lines: string[];
  store: MemoryStore;
  trail: AuditTrail;
}

/**
 * One replica's day through the real edge (handleReview): a gated delete recorded, the agent's own approval
 * refused, a human's admitted and used, a quota admitted and a unit spent, a rejection, and two days later the
 * rejected action asked anew (its request and the used one expired and collected).
 */
async function story(): Promise<Story> {
  const judge = await defaultJudge();
  const lines: string[] = [];
  const log = capturedLog(lines);
  const store = memoryStore();
  const trail = auditTrail(log, { replica: 'countersign-7d9f-a', nonce: 'n-a', now: () => NOW });
  const edge = edgeDeps(judge, { log, approvals: gateDeps(store, NOW, trail) });
  const web = heldOutReview('agent-delete-production-deployment').request;
  expect((await review(edge, web)).allowed).toBe(false);
  const about = newest(store);
  const own = approval('by-agent', { ...about, approver: CODER });
  expect((await review(edge, creating(own, CODER))).allowed).toBe(false);
  const human = approval('ok-web', about);
  // Each Approval through the real edge's admission first; the apiserver then stores what it admitted.
  expect((await review(edge, creating(human, 'sre-a'))).allowed).toBe(true);
  store.add(human);
  expect((await review(edge, web)).allowed).toBe(true);

  expect((await review(edge, podDelete('b'))).allowed).toBe(false);
  const quota = approval('q', { ...newest(store), quota: { deletes: 2 } });
  quota.metadata.labels = { [QUOTA_LABEL]: requesterLabelValue(CODER) };
  expect((await review(edge, creating(quota, 'sre-a'))).allowed).toBe(true);
  store.add(quota);
  expect((await review(edge, podDelete('c'))).allowed).toBe(true);

  const scale = heldOutReview('agent-scale-production-to-zero').request;
  expect((await review(edge, scale)).allowed).toBe(false);
  const no = approval('no-scale', { ...newest(store), decision: 'Reject', approver: 'sre-b', reason: 'not tonight' });
  expect((await review(edge, creating(no, 'sre-b'))).allowed).toBe(true);
  store.add(no);

  const later = edgeDeps(judge, { log, approvals: gateDeps(store, LATER, trail) });
  expect((await review(later, scale)).allowed).toBe(false);
  return { lines, store, trail };
}

function audits(lines: readonly string[]): { index: number; record: AuditRecord }[] {
  return lines.flatMap((line, index) => {
    const parsed = JSON.parse(line) as { audit?: AuditRecord };
    return parsed.audit === undefined ? [] : [{ index, record: parsed.audit }];
  });
}

/** The line index of the n-th (0-based) audit record of an event. */
function lineOf(lines: readonly string[], event: string, n = 0): number {
  const found = audits(lines).filter((a) => a.record.event === event)[n];
  if (found === undefined) throw new Error(`no ${event} #${n}`);
  return found.index;
}

/** The store's Events as `kubectl get events -o json` would show them. */
function eventList(store: MemoryStore): unknown {
  return {
    kind: 'EventList',
    items: store.events.map((e, i) => ({
      metadata: { name: `${e.request.slice(0, 40)}.${i}`, ...(e.anchor === undefined ? {} : { annotations: anchorAnnotations(e.anchor) }) },
      reason: e.reason, message: e.message,
    })),
  };
}

function anchorsOf(store: MemoryStore): SourcedAnchor[] {
  const { anchors, problems } = anchorsFromEvents(eventList(store));
  expect(problems).toEqual([]);
  return anchors;
}

function edited(line: string, change: (audit: AuditRecord) => void, reseal = false): string {
  const parsed = JSON.parse(line) as { audit: AuditRecord };
  change(parsed.audit);
  if (reseal) parsed.audit.hash = hashOf(parsed.audit);
  return JSON.stringify(parsed);
}

describe('the audit trail the edge writes', () => {
  it('records every approval step as one hash-chained line among the decision lines, and the chain verifies', async () => {
    const { lines } = await story();
    expect(lines.some((l) => l.includes('"msg":"decision"'))).toBe(true);
    const events = audits(lines).map((a) => a.record.event);
    expect(events).toEqual([
      'chain-start', 'request-recorded', 'approval-refused', 'approval-admitted', 'approval-used',
      'request-recorded', 'approval-admitted', 'quota-used', 'request-recorded', 'rejection-admitted',
      // Two days on: the rejected request has expired; so have the used one and the quota's, collected when the
      // requester's open requests are counted.
      'request-expired', 'request-expired', 'request-expired', 'request-recorded',
    ]);
    const verdict = verifyAuditLog(lines);
    expect(verdict).toMatchObject({ ok: true, records: 14, skipped: lines.length - 14 });
    expect(verdict.chains).toEqual([expect.objectContaining({
      replica: 'countersign-7d9f-a', records: 14,
      byEvent: { 'chain-start': 1, 'request-recorded': 4, 'approval-refused': 1, 'approval-admitted': 2, 'approval-used': 1, 'quota-used': 1, 'rejection-admitted': 1, 'request-expired': 3 },
    })]);
  });

  it('says who did what to which request', async () => {
    const { lines } = await story();
    const record = (event: string, n = 0): AuditRecord => audits(lines).filter((a) => a.record.event === event)[n]!.record;
    const recorded = record('request-recorded');
    expect(recorded).toMatchObject({ requester: CODER, rule: 'production-delete', environment: 'production', action: 'DELETE apps/v1/deployments shop-prod/web', approvalsRequired: 1 });
    expect(recorded.request).toMatch(/^cs-[0-9a-f]{64}$/);
    expect(record('approval-refused')).toMatchObject({ request: recorded.request, creator: CODER, approver: CODER, why: expect.stringContaining('agents may not') });
    expect(record('approval-admitted')).toMatchObject({ request: recorded.request, digest: recorded.digest, approval: 'ok-web', approver: 'sre-a', reason: 'planned maintenance' });
    expect(record('approval-used')).toMatchObject({ request: recorded.request, approvals: ['ok-web'], approvers: ['sre-a'], usedBy: CODER });
    expect(record('approval-admitted', 1)).toMatchObject({ approval: 'q', quotaDeletes: 2 });
    expect(record('quota-used')).toMatchObject({ approvals: ['q'], approvers: ['sre-a'], usedBy: CODER, used: 1, of: 2, target: 'DELETE v1/pods shop-prod/c' });
    expect(record('rejection-admitted')).toMatchObject({ approver: 'sre-b', reason: 'not tonight', rule: 'production-scale-down' });
    expect(record('request-expired')).toMatchObject({ rule: 'production-scale-down', phase: 'Pending' });
    expect(record('request-expired', 1)).toMatchObject({ request: recorded.request, phase: 'Used' });
    expect(record('request-expired', 2)).toMatchObject({ action: 'DELETE v1/pods shop-prod/b', phase: 'Pending' });
  });

  it('anchors each step that has an Event: the Event carries the line\'s chain, seq and hash', async () => {
    const { lines, store, trail } = await story();
    const byHash = new Map(audits(lines).map((a) => [a.record.hash, a.record]));
    expect(store.events.map((e) => [e.reason, byHash.get(e.anchor?.hash ?? '')?.event])).toEqual([
      ['ApprovalRequested', 'request-recorded'], ['Approved', 'approval-admitted'], ['ApprovalUsed', 'approval-used'],
      ['ApprovalRequested', 'request-recorded'], ['Approved', 'approval-admitted'], ['QuotaUsed', 'quota-used'],
      ['ApprovalRequested', 'request-recorded'], ['Rejected', 'rejection-admitted'],
      ['ApprovalRequestExpired', 'request-expired'], ['ApprovalRequestExpired', 'request-expired'], ['ApprovalRequestExpired', 'request-expired'],
      ['ApprovalRequested', 'request-recorded'],
    ]);
    for (const event of store.events) {
      const record = byHash.get(event.anchor!.hash)!;
      expect(event.anchor).toEqual({ chain: record.chain, seq: record.seq, hash: record.hash, replica: trail.replica });
    }
    expect(verifyAuditLog(lines, anchorsOf(store))).toMatchObject({ ok: true, anchors: 12 });
  });

  it('records approvals spent for nothing when a two-person pair is half used and the other half lost', async () => {
    // Production deletes need two people (unsigned, so the pair needs no keys).
    const judge = judgeFrom('rules: [{name: two-person-delete, tier: require-approval, match: {operations: [DELETE], environments: [production]}, approval: {approvers: 2, signature: false}}]');
    const lines: string[] = [];
    const store = memoryStore();
    const trail = auditTrail(capturedLog(lines), { replica: 'r', nonce: 'n', now: () => NOW });
    const { review: web, about } = await gated(judge, store);
    expect(store.requests.get(about.requestName)?.spec).toMatchObject({ rule: 'two-person-delete', approvalsRequired: 2 });
    await approve(judge, store, approval('first', { ...about, approver: 'sre-a' }));
    await approve(judge, store, approval('second', { ...about, approver: 'sre-b' }));
    const markUsed = store.markUsed.bind(store);
    store.markUsed = (a, usedFor, at) => (a.metadata.name === 'second' ? Promise.resolve(false) : markUsed(a, usedFor, at));
    const decision = judge.decide({ request: web, namespace: namespaceNamed('shop-prod')!, ...offline(web) });
    expect((await applyApprovalGate(web, decision, judge.policy.config, gateDeps(store, NOW, trail))).allowed).toBe(false);
    const [wasted] = audits(lines).filter((a) => a.record.event === 'approval-wasted');
    expect(wasted?.record).toMatchObject({ request: about.requestName, approvals: ['first'], approvers: ['sre-a'], lostTo: 'second' });
    expect(store.events.at(-1)).toMatchObject({ reason: 'ApprovalWasted', anchor: { seq: wasted!.record.seq, hash: wasted!.record.hash } });
    expect(audits(lines).map((a) => a.record.event)).not.toContain('approval-used');
  });

  it('writes nothing for a dry-run approval (and emits no Event): nothing was created', async () => {
    const judge = await defaultJudge();
    const lines: string[] = [];
    const store = memoryStore();
    const trail = auditTrail(capturedLog(lines), { replica: 'r', nonce: 'n', now: () => NOW });
    const edge = edgeDeps(judge, { approvals: gateDeps(store, NOW, trail) });
    await review(edge, heldOutReview('agent-delete-production-deployment').request);
    const [request] = [...store.requests.values()];
    const dry = { ...creating(approval('dry', { requestName: request!.metadata.name, digest: request!.spec.digest }), 'sre-a'), dryRun: true };
    expect((await review(edge, dry)).allowed).toBe(true);
    expect(audits(lines).map((a) => a.record.event)).toEqual(['chain-start', 'request-recorded']);
    expect(store.events.map((e) => e.reason)).toEqual(['ApprovalRequested']);
  });

  it('is written at any log level, even fatal; only "silent" (for tests) silences it', () => {
    const lines: string[] = [];
    const fatal = createLogger('fatal', { write: (text: string) => { lines.push(text); } });
    auditTrail(fatal, { replica: 'r' }).record('request-recorded', { request: 'cs-x' });
    expect(lines).toHaveLength(2);
    const quiet: string[] = [];
    const silent = createLogger('silent', { write: (text: string) => { quiet.push(text); } });
    auditTrail(silent, { replica: 'r' }).record('request-recorded', { request: 'cs-x' });
    expect(quiet).toEqual([]);
  });
});

describe('audit-verify on a tampered log', () => {
  it('finds an edited field: the line\'s hash no longer matches', async () => {
    const { lines } = await story();
    const at = lineOf(lines, 'approval-admitted');
    const copy = [...lines];
    copy[at] = edited(copy[at]!, (a) => { a.approver = 'sre-b'; });
    expect(verifyAuditLog(copy)).toMatchObject({ ok: false, broken: { kind: 'edited', line: at + 1 } });
  });

  it('finds an edited line whose hash was recomputed: the next record no longer follows it', async () => {
    const { lines } = await story();
    const at = lineOf(lines, 'approval-admitted');
    const copy = [...lines];
    copy[at] = edited(copy[at]!, (a) => { a.approver = 'sre-b'; }, true);
    expect(verifyAuditLog(copy)).toMatchObject({ ok: false, broken: { kind: 'replaced', line: lineOf(lines, 'approval-used') + 1 } });
  });

  it('finds a deleted line, naming the line where the gap shows and the seq that is gone', async () => {
    const { lines } = await story();
    const at = lineOf(lines, 'approval-refused');
    const seq = audits(lines).find((a) => a.index === at)!.record.seq;
    const copy = lines.filter((_, i) => i !== at);
    const next = audits(copy).find((a) => a.record.seq === seq + 1)!.index;
    const verdict = verifyAuditLog(copy);
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'missing', line: next + 1 } });
    expect(verdict.broken?.reason).toContain(`seq ${seq} is missing`);
  });

  it('finds a deleted line whose successors were renumbered and relinked by hand: their hashes cover seq and prev', async () => {
    const { lines } = await story();
    const at = lineOf(lines, 'approval-refused');
    const gone = audits(lines).find((a) => a.index === at)!.record;
    let prev = gone.prev;
    const patched = lines.filter((_, i) => i !== at).map((line) => {
      const parsed = JSON.parse(line) as { audit?: AuditRecord };
      if (parsed.audit === undefined || parsed.audit.seq < gone.seq) return line;
      const audit = { ...parsed.audit, seq: parsed.audit.seq - 1, prev };
      prev = parsed.audit.hash;
      return JSON.stringify({ ...parsed, audit });
    });
    expect(verifyAuditLog(patched)).toMatchObject({ ok: false, broken: { kind: 'edited', line: lineOf(patched, 'approval-admitted') + 1 } });
  });

  it('finds a deleted chain-start', async () => {
    const { lines } = await story();
    const copy = lines.filter((_, i) => i !== lineOf(lines, 'chain-start'));
    expect(verifyAuditLog(copy)).toMatchObject({ ok: false, broken: { kind: 'missing', line: lineOf(copy, 'request-recorded') + 1 } });
  });

  it('finds two lines swapped', async () => {
    const { lines } = await story();
    const [a, b] = [lineOf(lines, 'approval-used'), lineOf(lines, 'request-recorded', 1)];
    const copy = [...lines];
    [copy[a], copy[b]] = [copy[b]!, copy[a]!];
    expect(verifyAuditLog(copy)).toMatchObject({ ok: false, broken: { kind: 'reordered', line: a + 1 } });
  });

  it('finds a duplicated line', async () => {
    const { lines } = await story();
    const at = lineOf(lines, 'approval-used');
    const copy = [...lines.slice(0, at + 1), lines[at]!, ...lines.slice(at + 1)];
    expect(verifyAuditLog(copy)).toMatchObject({ ok: false, broken: { kind: 'duplicated', line: at + 2 } });
  });

  it('finds an audit line cut short or mangled, rather than skipping it', async () => {
    const { lines } = await story();
    const at = lineOf(lines, 'quota-used');
    expect(verifyAuditLog(lines.map((l, i) => (i === at ? l.slice(0, -20) : l)))).toMatchObject({ ok: false, broken: { kind: 'malformed', line: at + 1 } });
    // Cut before its audit key, it is no longer recognisable as an audit line: the gap it leaves is what shows.
    expect(verifyAuditLog(lines.map((l, i) => (i === at ? l.slice(0, 40) : l)))).toMatchObject({ ok: false, broken: { kind: 'missing', line: lineOf(lines, 'request-recorded', 2) + 1 } });
    expect(verifyAuditLog(lines.map((l, i) => (i === at ? edited(l, (r) => { delete (r as Partial<AuditRecord>).seq; }) : l)))).toMatchObject({ ok: false, broken: { kind: 'malformed', line: at + 1 } });
  });

  it('cannot see a truncated tail from the log alone; with the Events\' anchors it can', async () => {
    const { lines, store } = await story();
    const cut = lines.slice(0, lineOf(lines, 'quota-used'));
    expect(verifyAuditLog(cut).ok).toBe(true);
    const verdict = verifyAuditLog(cut, anchorsOf(store));
    expect(verdict).toMatchObject({ ok: false, broken: { kind: 'truncated', line: lineOf(lines, 'approval-admitted', 1) + 1 } });
    expect(verdict.broken?.reason).toMatch(/ends at seq 6 .* records after it were deleted/);
    // A whole chain gone: the Events still name it.
    expect(verifyAuditLog(lines.filter((l) => !l.includes('"audit"')), anchorsOf(store))).toMatchObject({ ok: false, broken: { kind: 'absent' } });
  });

  it('cannot tell a rewritten chain from the log alone (it is not keyed); the anchors can', async () => {
    const { lines, store } = await story();
    // A forger with the log in hand rebuilds the whole chain with one approver changed.
    const forged: string[] = [];
    let prev = '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as { audit?: AuditRecord };
      if (parsed.audit === undefined) { forged.push(line); continue; }
      const audit = { ...parsed.audit, ...(parsed.audit.seq === 0 ? {} : { prev }), ...(parsed.audit.approver === 'sre-b' ? { approver: 'sre-a' } : {}) };
      audit.hash = hashOf(audit);
      prev = audit.hash;
      forged.push(JSON.stringify({ ...parsed, audit }));
    }
    expect(verifyAuditLog(forged).ok).toBe(true);
    expect(verifyAuditLog(forged, anchorsOf(store))).toMatchObject({ ok: false, broken: { kind: 'mismatch', line: lineOf(lines, 'rejection-admitted') + 1 } });
  });

  it('follows each replica\'s own chain through an interleaved log, and finds a line deleted from one of them', async () => {
    const judge = await defaultJudge();
    const lines: string[] = [];
    const log = capturedLog(lines);
    const store = memoryStore();
    const [a, b] = ['a', 'b'].map((name) => auditTrail(log, { replica: `countersign-${name}`, nonce: name, now: () => NOW }));
    const edgeA = edgeDeps(judge, { log, approvals: gateDeps(store, NOW, a) });
    const edgeB = edgeDeps(judge, { log, approvals: gateDeps(store, NOW, b) });
    for (const name of ['p1', 'p2', 'p3']) {
      await review(edgeA, podDelete(`${name}-a`));
      await review(edgeB, podDelete(`${name}-b`));
    }
    const verdict = verifyAuditLog(lines, anchorsOf(store));
    expect(verdict).toMatchObject({ ok: true, records: 8, anchors: 6 });
    expect(verdict.chains.map((c) => [c.replica, c.records, c.anchoredTo])).toEqual([['countersign-a', 4, 3], ['countersign-b', 4, 3]]);
    expect(new Set(verdict.chains.map((c) => c.chain)).size).toBe(2);
    const ofB = audits(lines).filter((x) => x.record.chain === chainIdOf('countersign-b', 'b'));
    const [gone, next] = [ofB.find((x) => x.record.seq === 2)!.index, ofB.find((x) => x.record.seq === 3)!.index];
    const verdict2 = verifyAuditLog(lines.filter((_, i) => i !== gone));
    expect(verdict2).toMatchObject({ ok: false, broken: { kind: 'missing', line: next } });
    expect(verdict2.broken?.reason).toContain('seq 2 is missing');
  });

  it('refuses a chain-start whose chain id does not come from its replica and nonce', () => {
    const start = startChain({ replica: 'r', nonce: 'n', at: NOW });
    const forged = { ...start, replica: 'other' };
    const line = JSON.stringify({ msg: 'audit', audit: { ...forged, hash: hashOf(forged) } });
    expect(verifyAuditLog([line])).toMatchObject({ ok: false, broken: { kind: 'malformed', line: 1 } });
    expect(verifyAuditLog([JSON.stringify({ msg: 'audit', audit: start })])).toMatchObject({ ok: true });
  });

  it('reads anchors from an Event list and refuses malformed ones', () => {
    const good = { metadata: { name: 'e1', annotations: anchorAnnotations({ chain: 'c', seq: 3, hash: 'h', replica: 'r' }) } };
    const bad = { metadata: { name: 'e2', annotations: { ...anchorAnnotations({ chain: 'c', seq: 3, hash: 'h', replica: 'r' }), 'countersign.dev/audit-seq': '3x' } } };
    expect(anchorsFromEvents({ items: [good, { metadata: { name: 'plain' } }] })).toEqual({ anchors: [{ chain: 'c', seq: 3, hash: 'h', replica: 'r', source: 'e1' }], problems: [] });
    expect(anchorsFromEvents([bad]).problems).toEqual(['Event e2 carries a malformed audit anchor']);
  });
});

describe('countersign audit-verify', () => {
  const run = promisify(execFile);

  async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(process.execPath, [CLI, 'audit-verify', ...args]);
      return { code: 0, stdout, stderr };
    } catch (error: unknown) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  it('exits 0 when intact, 1 naming the first break, 2 on usage errors (the built binary)', async () => {
    const { lines, store } = await story();
    const dir = mkdtempSync(join(tmpdir(), 'countersign-audit-'));
    try {
      const log = join(dir, 'countersign.log');
      const events = join(dir, 'events.json');
      writeFileSync(log, `${lines.join('\n')}\nnot json at all\n`);
      writeFileSync(events, JSON.stringify(eventList(store)));
      const intact = await cli([log, '--anchors', events]);
      expect(intact.code).toBe(0);
      expect(intact.stdout).toContain(`audit log intact: 14 audit records in 1 chain(s), ${lines.length - 14 + 1} other line(s) skipped, 12 Event anchor(s) checked`);
      expect(intact.stdout).toContain('vouched for by Events up to seq 13\n');
      const at = lineOf(lines, 'approval-used');
      const copy = lines.filter((_, i) => i !== at);
      writeFileSync(log, copy.join('\n'));
      const broken = await cli([log]);
      expect(broken.code).toBe(1);
      // Named where the gap shows: the next audit line, after the last intact one, with the seq that is gone.
      const [before, after] = [lineOf(copy, 'approval-admitted') + 1, lineOf(copy, 'request-recorded', 1) + 1];
      expect(broken.stdout).toMatch(new RegExp(`^audit log BROKEN at line ${after} \\(missing\\): .* follows seq 3 \\(line ${before}\\): seq 4 is missing`));
      expect((await cli([log, 'second'])).code).toBe(2);
      expect((await cli([join(dir, 'absent.log')])).code).toBe(2);
      writeFileSync(events, '{not json');
      expect((await cli([log, '--anchors', events])).code).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads standard input by default or as -', async () => {
    const { lines } = await story();
    for (const args of [[], ['-']]) {
      const piped = spawnSync(process.execPath, [CLI, 'audit-verify', ...args], { input: lines.join('\n'), encoding: 'utf8' });
      expect([piped.status, piped.stdout.split('\n')[0]]).toEqual([0, `audit log intact: 14 audit records in 1 chain(s), ${lines.length - 14} other line(s) skipped`]);
    }
    expect(() => auditVerifyCommand(['-', '--anchors', '-'])).toThrow('cannot both be standard input');
  });
});
