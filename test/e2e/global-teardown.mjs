import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

export default function teardown() {
  const dir = process.env.COUNTERSIGN_E2E_DIR ?? join(HERE, '..', '..', '.run', 'e2e');
  execFileSync(process.execPath, [join(HERE, '..', 'harness', 'control-plane.ts'), 'down', '--dir', dir], { stdio: 'inherit' });
}
