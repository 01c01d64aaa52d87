// The held-out AdmissionReviews through the real `countersign evaluate` binary (built dist/).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { HELD_OUT, heldOutNames, heldOutReview, readJson } from '../../helpers/fixtures.js';

const HERE = dirname(fileURLToPath(import.meta.url));

const run = promisify(execFile);
const CLI = join(HERE, '..', '..', '..', 'dist', 'cli', 'main.js');
const expected = readJson(join(HELD_OUT, 'expected.json')) as Record<string, { allowed: boolean; tier: string; rule: string; warning?: boolean }>;

interface Answer {
  response: { uid: string; allowed: boolean; status?: { code: number; message: string }; warnings?: string[]; auditAnnotations?: Record<string, string> };
}

async function evaluate(name: string): Promise<Answer> {
  const { stdout } = await run(process.execPath, [
    CLI, 'evaluate', '--review', join(HELD_OUT, 'reviews', `${name}.json`), '--cluster', join(HELD_OUT, 'cluster.json'),
    '--identities', join(HELD_OUT, 'identities.json'),
  ]);
  return JSON.parse(stdout) as Answer;
}

describe('countersign evaluate on the held-out reviews', () => {
  it('covers agents, humans and controllers across the kinds the issue names', () => {
    expect(heldOutNames().length).toBe(Object.keys(expected).length);
    expect(heldOutNames().length).toBeGreaterThanOrEqual(20);
  });

  it.each(heldOutNames())('%s', async (name) => {
    const want = expected[name]!;
    const { response } = await evaluate(name);
    expect(response.uid).toBe(heldOutReview(name).request.uid);
    expect(response.allowed).toBe(want.allowed);
    if (!want.allowed) expect(response.status?.message).toMatch(/^Countersign /);
    if (want.rule !== 'non-agent') expect(response.auditAnnotations).toMatchObject({ tier: want.tier, rule: want.rule });
    if (want.tier === 'audit' || want.warning === true) expect(response.warnings?.length).toBeGreaterThan(0);
  });

  it('exits non-zero with a clear message for unreadable input', async () => {
    await expect(run(process.execPath, [CLI, 'evaluate', '--review', '/nonexistent.json'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--review: cannot read /nonexistent.json'),
    });
    await expect(run(process.execPath, [CLI, 'evaluate', '--review', join(HELD_OUT, 'cluster.json')])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('apiVersion: must be "admission.k8s.io/v1"'),
    });
  });
});
