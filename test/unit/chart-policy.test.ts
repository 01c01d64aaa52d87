// The chart cannot read files outside itself, so it carries a copy of the default policy; it must not drift.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the chart\'s copy of the default policy', () => {
  it('is policy/default.yaml (cp policy/default.yaml charts/countersign/files/default-policy.yaml)', () => {
    expect(readFileSync(join(ROOT, 'charts', 'countersign', 'files', 'default-policy.yaml'), 'utf8'))
      .toBe(readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8'));
  });
});
