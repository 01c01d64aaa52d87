import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function teardown() {
  const dir = join(import.meta.dirname, '..', '..', '.run', 'e2e');
  execFileSync(process.execPath, [join(import.meta.dirname, '..', 'harness', 'control-plane.ts'), 'down', '--dir', dir], { stdio: 'inherit' });
}
