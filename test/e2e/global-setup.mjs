// Brings the real control plane and Countersign up once for the whole end-to-end run.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export const E2E_DIR = join(import.meta.dirname, '..', '..', '.run', 'e2e');

export default function setup() {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', 'harness', 'control-plane.ts'), 'up', '--dir', E2E_DIR], {
    stdio: 'inherit',
    timeout: 300_000,
  });
}
