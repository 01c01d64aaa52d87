// The chart cannot read files outside itself, so npm run manifests generates its copy of the default policy and of
// the configuration's defaults.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** A plain ESM script without type declarations: imported by URL and given its shape here. */
interface Generator {
  CHART_POLICY: string;
  chartPolicy(): string;
  CHART_DEFAULTS: string;
  chartConfigDefaults(): string;
}

async function load(): Promise<Generator> {
  return (await import(pathToFileURL(join(ROOT, 'scripts', 'render-manifests.mjs')).href)) as Generator;
}

describe('the chart\'s copy of the default policy', () => {
  it('is what npm run manifests generates from policy/default.yaml now', async () => {
    const generator = await load();
    expect(readFileSync(generator.CHART_POLICY, 'utf8')).toBe(generator.chartPolicy());
    expect(generator.chartPolicy()).toContain(readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8'));
  });

  it('sits on the defaults npm run manifests generates from the configuration schema', async () => {
    const generator = await load();
    expect(readFileSync(generator.CHART_DEFAULTS, 'utf8')).toBe(generator.chartConfigDefaults());
    expect(generator.chartConfigDefaults()).toContain('staleAfterSeconds: 120');
  });
});
