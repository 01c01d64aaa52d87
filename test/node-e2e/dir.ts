import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the node cluster lives (as global-setup.mjs computes it); COUNTERSIGN_NODE_DIR lets two runs share a tree. */
export const NODE_DIR = process.env.COUNTERSIGN_NODE_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.run', 'node');
