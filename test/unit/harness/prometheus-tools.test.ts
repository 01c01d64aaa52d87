// The tests find prometheus and promtool only where `npm run prometheus:build` puts them, and a missing one is an
// error naming that command, so no test can pass (or quietly use a system package) without the pinned build.
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { PROMETHEUS_BIN_DIR, requireTool } from '../../harness/prometheus-tools.ts';

describe('requireTool', () => {
  it('resolves to the project-built binary, not one on PATH', () => {
    expect(PROMETHEUS_BIN_DIR.endsWith(join('test', 'prometheus-build', 'bin'))).toBe(true);
    expect(requireTool('promtool')).toBe(join(PROMETHEUS_BIN_DIR, 'promtool'));
    expect(requireTool('prometheus')).toBe(join(PROMETHEUS_BIN_DIR, 'prometheus'));
  });

  it('fails with the command that builds it when the binary is missing', () => {
    expect(() => requireTool('promtool', '/nonexistent/countersign-bin')).toThrow(
      'promtool is not built (/nonexistent/countersign-bin/promtool is missing): run `npm run prometheus:build`',
    );
  });
});
