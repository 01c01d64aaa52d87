// Where the tests find prometheus and promtool: the binaries `npm run prometheus:build` writes
// (test/prometheus-build/bin, a pinned release built from its Go module), never whatever is on PATH, so an old system
// package cannot stand in for the version the rules and the harness are written against. A missing binary is an
// error with the command that builds it: a test that needs the tool fails, it never skips.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROMETHEUS_BIN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'prometheus-build', 'bin');

export type PrometheusTool = 'prometheus' | 'promtool';

/** The tool's path in `binDir`, or an error saying how to build it. */
export function requireTool(name: PrometheusTool, binDir: string = PROMETHEUS_BIN_DIR): string {
  const path = join(binDir, name);
  if (!existsSync(path)) {
    throw new Error(`${name} is not built (${path} is missing): run \`npm run prometheus:build\` (npm test runs it first)`);
  }
  return path;
}
