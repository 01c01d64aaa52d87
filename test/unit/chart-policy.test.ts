// The chart cannot read files outside itself, so npm run manifests generates its copy of the default policy.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Generator {
  CHART_POLICY: string;
  chartPolicy(): string;
}

describe('the chart\'s copy of the default policy', () => {
  it('is what npm run manifests generates from policy/default.yaml now', async () => {
    // A plain ESM script without type declarations: imported by URL and given its shape here.
    const { CHART_POLICY, chartPolicy } = (await import(pathToFileURL(join(ROOT, 'scripts', 'render-manifests.mjs')).href)) as Generator;
    expect(readFileSync(CHART_POLICY, 'utf8')).toBe(chartPolicy());
    expect(chartPolicy()).toContain(readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8'));
  });
});
