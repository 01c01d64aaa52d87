// `countersign serve` as a process: SIGHUP reloads the policy and keeps serving; SIGTERM finishes and exits 0.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { makeCert } from '../../helpers/tls.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

function waitFor(text: () => string, wanted: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (text().includes(wanted)) resolve();
      else if (Date.now() > until) reject(new Error(`no "${wanted}" within ${ms} ms in:\n${text()}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

describe('countersign serve, signalled', () => {
  it('reloads on SIGHUP, then shuts down on SIGTERM with exit code 0', async () => {
    const cert = makeCert('127.0.0.1');
    const cluster = join(ROOT, 'test', 'fixtures', 'captured', 'cluster.json');
    const server = spawn(process.execPath, [CLI, 'serve', '--tls-cert', cert.certFile, '--tls-key', cert.keyFile, '--cluster', cluster, '--address', '127.0.0.1', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (chunk: Buffer) => { log += chunk.toString(); });
    server.stderr.on('data', (chunk: Buffer) => { log += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => server.on('exit', resolve));
    try {
      await waitFor(() => log, 'countersign serving', 15_000);
      server.kill('SIGHUP');
      await waitFor(() => log, 'policy reloaded', 10_000);
      expect(server.exitCode).toBeNull();
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(log).toContain('shutting down; finishing requests in flight');
    } finally {
      if (server.exitCode === null) server.kill('SIGKILL');
    }
  }, 40_000);
});
