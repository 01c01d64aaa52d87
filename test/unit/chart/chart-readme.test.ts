// The chart's README is generated from its values.yaml (scripts/render-chart-readme.mjs, run by npm run manifests);
// it must not drift from the values it documents.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const VALUES = join(ROOT, 'charts', 'countersign', 'values.yaml');
const README = join(ROOT, 'charts', 'countersign', 'README.md');

interface ValuesKey {
  path: string;
  value: unknown;
  section: boolean;
  comment: string;
}

interface Renderer {
  renderChartReadme: (valuesText: string) => string;
  valuesKeys: (valuesText: string) => ValuesKey[];
}

async function renderer(): Promise<Renderer> {
  // A plain ESM script without type declarations: imported by URL and given its shape here.
  return (await import(pathToFileURL(join(ROOT, 'scripts', 'render-chart-readme.mjs')).href)) as Renderer;
}

/** Every leaf path of a parsed YAML value: what the renderer's line scan must find. */
function leafPaths(value: unknown, prefix: string[] = []): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix.join('.')];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) => leafPaths(inner, [...prefix, key]));
}

describe('the chart README', () => {
  it('is what scripts/render-chart-readme.mjs renders from values.yaml now (npm run manifests)', async () => {
    const { renderChartReadme } = await renderer();
    expect(readFileSync(README, 'utf8')).toBe(renderChartReadme(readFileSync(VALUES, 'utf8')));
  });

  it('lists every value of values.yaml, with the default YAML gives it', async () => {
    const { valuesKeys } = await renderer();
    const text = readFileSync(VALUES, 'utf8');
    const parsed = parse(text) as Record<string, unknown>;
    const scanned = valuesKeys(text);
    const values = scanned.filter((key) => !key.section);
    const leaves = leafPaths(parsed);
    // values.yaml is not empty: neither loop below may pass for want of anything to check.
    expect(leaves.length).toBeGreaterThan(10);
    expect(values.length).toBeGreaterThan(10);
    // Flow collections (`requests: {cpu: 100m}`) are one row: their leaves sit under a scanned value.
    for (const leaf of leaves) {
      expect(values.some((key) => key.path === leaf || leaf.startsWith(`${key.path}.`))).toBe(true);
    }
    for (const key of values) {
      expect(key.value).toEqual(key.path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], parsed));
    }
  });

  it('takes the comment lines directly above a key, without the "-- " marker', async () => {
    const { valuesKeys } = await renderer();
    const keys = valuesKeys(['# header, then a blank line', '', '# -- How many.', '# Two lines.', 'count: 2', 'group:', '  inner: {a: 1}', ''].join('\n'));
    expect(keys).toEqual([
      { path: 'count', value: 2, section: false, comment: 'How many. Two lines.' },
      { path: 'group', value: { inner: { a: 1 } }, section: true, comment: '' },
      { path: 'group.inner', value: { a: 1 }, section: false, comment: '' },
    ]);
  });
});
