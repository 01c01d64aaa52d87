// Brings the real control plane and Countersign up once for the whole end-to-end run.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

export const E2E_DIR = process.env.COUNTERSIGN_E2E_DIR ?? join(HERE, '..', '..', '.run', 'e2e');

export default function setup() {
  execFileSync(process.execPath, [join(HERE, '..', 'harness', 'control-plane.ts'), 'up', '--dir', E2E_DIR], {
    stdio: 'inherit',
    timeout: 300_000,
  });
}
