// Runs every bundled example AdmissionReview through `countersign evaluate` and prints what was decided.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dir = join(root, 'test', 'fixtures', 'held-out');
const cli = join(root, 'dist', 'cli', 'main.js');
const rows = [];
for (const file of readdirSync(join(dir, 'reviews')).sort()) {
  const out = execFileSync(process.execPath, [cli, 'evaluate', '--review', join(dir, 'reviews', file), '--cluster', join(dir, 'cluster.json')]);
  const { response } = JSON.parse(out.toString());
  const said = response.status?.message ?? response.warnings?.join(' | ') ?? '';
  rows.push({
    example: file.replace(/\.json$/, ''),
    decision: response.allowed ? 'allowed' : 'DENIED',
    tier: response.auditAnnotations?.tier ?? 'allow (not an agent)',
    rule: response.auditAnnotations?.rule ?? '-',
    said: said.length > 110 ? `${said.slice(0, 107)}...` : said,
  });
}
const width = (key) => Math.max(key.length, ...rows.map((r) => r[key].length));
const keys = ['example', 'decision', 'tier', 'rule'];
console.log(keys.map((k) => k.padEnd(width(k))).join('  '));
for (const row of rows) {
  console.log(keys.map((k) => row[k].padEnd(width(k))).join('  '));
  if (row.said !== '') console.log(`    ${row.said}`);
}
console.log(`\n${rows.length} example reviews from test/fixtures/held-out through the default policy (policy/default.yaml).`);
