// Brings the cluster with a node up once for the node tests. The whole jest run is inside the cluster's network
// namespace (npm run test:node starts it through test/harness/netns.ts).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

export const NODE_DIR = process.env.COUNTERSIGN_NODE_DIR ?? join(HERE, '..', '..', '.run', 'node');

export default function setup() {
  execFileSync(process.execPath, [join(HERE, '..', 'harness', 'node-cluster.ts'), 'up', '--dir', NODE_DIR], { stdio: 'inherit', timeout: 600_000 });
}
