// The default policy with its bulk thresholds out of reach, for benchmarks that send one agent's requests in a
// loop: every request is then judged (and counted) the same way, instead of the budget gating the later ones.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export async function benchPolicy(dir) {
  const { DEFAULT_CONFIG_URL } = await import('../dist/config/load.js');
  let replaced = 0;
  const text = readFileSync(fileURLToPath(DEFAULT_CONFIG_URL), 'utf8')
    .replace(/(deletesPerMinute|maxChangesPer5m|maxChangesPerHour): \d+/g, (_m, name) => { replaced += 1; return `${name}: 1000000000`; })
    .replace(/maxRemovedPerHour: [0-9.]+/, () => { replaced += 1; return 'maxRemovedPerHour: 1.0'; });
  if (replaced !== 4) throw new Error(`the default policy's bulk thresholds were not all found (${replaced} of 4)`);
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, text);
  return file;
}
