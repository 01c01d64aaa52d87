// A policy reload that fails keeps the last good policy serving and reports every error.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../../src/config/load.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { watchFiles } from '../../../src/server/file-watch.js';
import { policyHolder } from '../../../src/server/policy-holder.js';
import { heldOutReview } from '../../helpers/fixtures.js';

const GOOD = 'rules: [{name: no-deletes, tier: deny, match: {operations: [DELETE]}}]\n';
const BAD = 'rules: [{name: no-deletes, tier: deny, expression: "oldObjct.x"}]\n';
const OTHER = 'rules: [{name: audit-deletes, tier: audit, match: {operations: [DELETE]}}]\n';

async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 5 s');
    await new Promise((done) => setTimeout(done, 20));
  }
}

describe('policy reload', () => {
  it('keeps serving the last good policy when the file turns bad, and picks up the next good one', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'countersign-policy-')), 'policy.yaml');
    writeFileSync(file, GOOD);
    const first = await loadConfigFile(file);
    if (!first.ok) throw new Error(first.errors.join('\n'));
    const metrics = createMetrics(false);
    const holder = policyHolder(first.policy, file, createLogger('silent'), metrics);
    const results: boolean[] = [];
    const watch = watchFiles([file], 25, async () => {
      const ok = (await holder.reload()).ok;
      results.push(ok);
      return ok;
    });
    const request = heldOutReview('agent-delete-development-deployment').request;
    try {
      await new Promise((done) => setTimeout(done, 60));
      writeFileSync(file, BAD);
      // A refused file is offered again on every poll until it changes.
      await waitUntil(() => results.length >= 2);
      expect(new Set(results)).toEqual(new Set([false]));
      expect(holder.generation()).toBe(1);
      expect(holder.judge().decide({ request })).toMatchObject({ allowed: false, rule: 'no-deletes' });
      const refused = await holder.reload();
      expect(refused.ok ? [] : refused.errors).toEqual([`${file}: rules[0].expression:1:1: undeclared reference 'oldObjct'`]);

      writeFileSync(file, OTHER);
      await waitUntil(() => results.includes(true));
      // Accepted content is not offered again (a change racing a poll may cost one extra reload, no more).
      await new Promise((done) => setTimeout(done, 100));
      const settled = results.length;
      await new Promise((done) => setTimeout(done, 150));
      expect(results.length).toBe(settled);
      expect(holder.generation()).toBeGreaterThanOrEqual(2);
      expect(holder.judge().decide({ request })).toMatchObject({ allowed: true, tier: 'audit', rule: 'audit-deletes' });
      // Every accepted reload is one generation and one "ok" load.
      expect(await metrics.registry.getSingleMetricAsString('countersign_policy_loads_total')).toContain(`countersign_policy_loads_total{result="ok"} ${holder.generation() - 1}`);
    } finally {
      watch.stop();
    }
  });
});
