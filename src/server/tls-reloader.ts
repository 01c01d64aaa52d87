// Swaps the serving certificate when its files change. Only new TLS handshakes see the new pair, so requests
// in flight are untouched; a half-written pair (cert updated before key) is refused and retried on the next poll.
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { KeyPair } from '../tls/x509.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export async function readKeyPair(files: TlsFiles): Promise<KeyPair> {
  const [cert, key] = await Promise.all([readFile(files.certFile, 'utf8'), readFile(files.keyFile, 'utf8')]);
  createSecureContext({ cert, key }); // throws if the key does not match the certificate
  return { cert, key };
}

/** The pair now served, or undefined when the files held no usable pair (the old one keeps serving). */
export async function reloadTls(server: Server, files: TlsFiles, log: Logger, metrics?: Metrics): Promise<KeyPair | undefined> {
  try {
    const pair = await readKeyPair(files);
    server.setSecureContext(pair);
    metrics?.tlsReloads.inc({ result: 'ok' });
    log.info({ certFile: files.certFile }, 'serving certificate reloaded');
    return pair;
  } catch (error: unknown) {
    metrics?.tlsReloads.inc({ result: 'error' });
    log.warn({ err: error, certFile: files.certFile }, 'serving certificate not reloaded; keeping the current one');
    return undefined;
  }
}
