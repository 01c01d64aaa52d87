import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_DIR } from './global-setup.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));

export default function teardown() {
  execFileSync(process.execPath, [join(HERE, '..', 'harness', 'node-cluster.ts'), 'down', '--dir', NODE_DIR], { stdio: 'inherit' });
}
