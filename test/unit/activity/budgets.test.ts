// Bulk budgets through the edge (handleReview), with several "replicas" sharing one activity store the way
// real replicas share the AgentActivity object: the count must hold under interleaving and conflicts.
import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { handleReview, type ReviewDeps } from '../../../src/webhook/handle-review.js';
import { memoryActivityStore, type ActivityStore } from '../../../src/activity/activity-store.js';
import { activityView, deletesWithin } from '../../../src/core/activity.js';
import { parseDuration } from '../../../src/kube/duration.js';
import { LeaseLedger } from '../../../src/activity/lease-ledger.js';
import { staticNamespaceDirectory } from '../../../src/cluster/namespace-directory.js';
import { loadConfigText } from '../../../src/config/load.js';
import { createJudge } from '../../../src/core/decide.js';
import { createLogger } from '../../../src/observability/logger.js';
import { EMPTY_CLUSTER, OFFLINE, offline, heldOutNamespaces, heldOutReview, judgeFrom } from '../../helpers/fixtures.js';

const POLICY = `
params: {limit: 3}
rules:
  - name: budget
    tier: deny
    match: {operations: [DELETE]}
    expression: agent.deletes('60s') > params.limit
    messageExpression: "string(agent.deletes('60s')) + ' deletes in 60s'"
`;

function policy(): ReviewDeps['judge'] {
  const loaded = loadConfigText(POLICY, 'budget.yaml');
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  const judge = createJudge(loaded.policy);
  return () => judge;
}

/** A development-namespace delete by an agent, one per name (the kubectl delete --all loop). */
function agentDelete(name: string, dryRun = false): { request: AdmissionRequest } {
  const review = heldOutReview('agent-delete-development-deployment');
  review.request.uid = `uid-${name}`;
  review.request.dryRun = dryRun;
  return review;
}

function replica(store: ActivityStore, clock: { now: number }, ledger = new LeaseLedger()): ReviewDeps {
  return {
    judge: policy(), namespaces: staticNamespaceDirectory(heldOutNamespaces()), picture: EMPTY_CLUSTER,
    log: createLogger('silent'), activity: { store, now: () => new Date(clock.now), ledger },
  };
}

async function allowed(deps: ReviewDeps, name: string, dryRun = false): Promise<boolean> {
  const result = await handleReview(agentDelete(name, dryRun), deps);
  if (result.status !== 200) throw new Error(result.body.error);
  return result.body.response.allowed;
}

/** A store whose every other write loses a race, as if another replica had written in between. */
function contended(inner: ActivityStore): ActivityStore & { conflicts: number } {
  let flip = false;
  const store = {
    conflicts: 0,
    read: (agent: string) => inner.read(agent),
    async write(agent: string, record: Parameters<ActivityStore['write']>[1], version: string | undefined) {
      flip = !flip;
      if (flip) {
        store.conflicts += 1;
        // The rival's write lands first: one more delete recorded under the same agent.
        const { version: fresh, ...held } = await inner.read(agent);
        await inner.write(agent, { ...held, buckets: [...held.buckets, { at: 0, counter: 'deletes', count: 1 }].map((b) => ({ ...b, at: b.at || record.buckets.at(-1)?.at || Date.UTC(2026, 10, 21, 12) })) }, fresh);
        return false;
      }
      return inner.write(agent, record, version);
    },
  };
  return store;
}

describe('bulk budgets', () => {
  it('counts deletes in a sliding window, this request included, and forgets past the window', async () => {
    const clock = { now: Date.UTC(2026, 10, 21, 12) };
    const deps = replica(memoryActivityStore(), clock);
    const results: boolean[] = [];
    for (let i = 0; i < 5; i++) results.push(await allowed(deps, `d${i}`));
    expect(results).toEqual([true, true, true, false, false]);
    clock.now += 71_000; // a window counts whole 10-second buckets: up to 10 s longer than asked
    expect(await allowed(deps, 'later')).toBe(true);
  });

  it('does not count dry runs or refused deletes, but answers a dry run as the real request would be', async () => {
    const clock = { now: Date.UTC(2026, 10, 21, 12) };
    const deps = replica(memoryActivityStore(), clock);
    for (let i = 0; i < 3; i++) expect(await allowed(deps, `d${i}`)).toBe(true);
    expect(await allowed(deps, 'probe', true)).toBe(false);
    expect(await allowed(deps, 'refused')).toBe(false);
    clock.now += 71_000; // a window counts whole 10-second buckets: up to 10 s longer than asked
    // Neither the dry run nor the refusals were recorded: three fresh deletes fit again.
    for (let i = 0; i < 3; i++) expect(await allowed(deps, `e${i}`)).toBe(true);
  });

  it('holds two replicas sharing one record to the budget, interleaved and concurrent', async () => {
    const clock = { now: Date.UTC(2026, 10, 21, 12) };
    const store = memoryActivityStore();
    const [a, b] = [replica(store, clock), replica(store, clock)];
    const outcomes = await Promise.all(Array.from({ length: 10 }, (_, i) => allowed(i % 2 === 0 ? a : b, `c${i}`)));
    expect(outcomes.filter(Boolean)).toHaveLength(3);
    const { version: _v, ...record } = await store.read('system:serviceaccount:agents:coder');
    // Leases count in full until handed back: at least the three allowed, never fewer.
    expect(deletesWithin(activityView(record, 'nobody', clock.now, 3_600_000), 60_000, 0)).toBeGreaterThanOrEqual(3);
  });

  it('decides again after losing a compare-and-swap, with the rival\'s delete counted', async () => {
    const clock = { now: Date.UTC(2026, 10, 21, 12) };
    const store = contended(memoryActivityStore());
    const deps = replica(store, clock);
    // a: its first write loses to a rival's delete; decided again (2nd of 3) and recorded with a lease.
    expect(await allowed(deps, 'a')).toBe(true);
    expect(store.conflicts).toBe(1);
    // b: spent from the lease: the 3rd. c: would be the 4th, refused locally, then by the record.
    expect(await allowed(deps, 'b')).toBe(true);
    expect(await allowed(deps, 'c')).toBe(false);
  });

  it('refuses an agent delete when the record cannot be read, and a budget rule that matches more than DELETE', async () => {
    const broken: ActivityStore = { read: () => Promise.reject(new Error('etcd is down')), write: () => Promise.resolve(true) };
    const result = await handleReview(agentDelete('x'), replica(broken, { now: 0 }));
    expect(result.status === 200 && result.body.response).toMatchObject({ allowed: false, status: { message: expect.stringContaining("the agent's activity record, which its budgets count, could not be read (etcd is down)") } });
    // A delete no budget rule judges is still refused: allowed, it could not be counted.
    const unjudged = replica(broken, { now: 0 });
    const other = loadConfigText(POLICY.replace('match: {operations: [DELETE]}', 'match: {operations: [DELETE], resources: [configmaps]}'), 'budget.yaml');
    if (!other.ok) throw new Error(other.errors.join('\n'));
    const judge = createJudge(other.policy);
    const refused = await handleReview(agentDelete('y'), { ...unjudged, judge: () => judge });
    expect(refused.status === 200 && refused.body.response.status?.message).toContain("cannot be recorded against the agent's budget: etcd is down");
    const bad = loadConfigText(POLICY.replace('[DELETE]', '[DELETE, UPDATE]'), 'budget.yaml');
    expect(bad.ok ? [] : bad.errors).toEqual([expect.stringContaining('rules[0].match.operations: a rule that reads agent.deletes(...) must match operations among [DELETE] only')]);
  });

  it('refuses windows it cannot answer: malformed, longer than retention, or without the record', () => {
    const judge = judgeFrom(POLICY.replace("'60s'", "'2h'").replace("'60s'", "'2h'"));
    const { request } = agentDelete('x');
    const long = judge.decide({ request, ...offline(request) });
    expect(long.fired[0]?.error).toContain('window 2h is longer than activity.retentionSeconds');
    expect(judgeFrom(POLICY.replace("'60s'", "'a minute'")).decide({ request, ...offline(request) }).fired[0]?.error).toContain('is not a duration');
    expect(judgeFrom(POLICY).decide({ request, picture: OFFLINE.picture }).fired[0]?.error).toContain('activity record was not read');
    expect([parseDuration('1h30m'), parseDuration('90s'), parseDuration('500ms'), parseDuration('-1s'), parseDuration('1.5h')]).toEqual([5_400_000, 90_000, 500, undefined, undefined]);
  });

});
