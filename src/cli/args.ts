// Command-line flags to settings: defaults, then flags, then one validation that lists every problem.
import { accessSync, constants } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { LOG_LEVELS, type LogLevel } from '../observability/logger.js';
import type { TlsSource } from '../server/serving-tls.js';
import { present } from '../kube/present.js';

export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'UsageError';
  }
}

/** Where the serving certificate comes from: files someone else rotates, or Countersign itself. */
export interface ServeSettings {
  config?: string;
  address: string;
  port: number;
  tls: TlsSource;
  cluster?: string;
  kubeconfig?: string;
  logLevel: LogLevel;
  reloadIntervalMs: number;
  captureDir?: string;
}

export interface EvaluateSettings {
  review: string;
  cluster?: string;
  config?: string;
  /** A JSON file mapping usernames to the dangerous rights they hold: offline, nobody can be asked. */
  identities?: string;
}

export const SERVE_DEFAULTS = { address: '0.0.0.0', port: 8443, logLevel: 'info' as LogLevel, reloadIntervalMs: 2000 };

function readable(path: string | undefined, flag: string, problems: string[]): void {
  if (path === undefined) return;
  try {
    accessSync(path, constants.R_OK);
  } catch {
    problems.push(`${flag}: cannot read ${path}`);
  }
}

function parse(argv: string[], options: NonNullable<ParseArgsConfig['options']>): Record<string, string | undefined> {
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return values as Record<string, string | undefined>;
  } catch (error: unknown) {
    throw new UsageError([error instanceof Error ? error.message : String(error)]);
  }
}

function wholeNumber(text: string | undefined, flag: string, range: [number, number], problems: string[]): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < range[0] || value > range[1]) {
    problems.push(`${flag}: must be a whole number from ${range[0]} to ${range[1]} (got ${JSON.stringify(text)})`);
    return undefined;
  }
  return value;
}

const HOST = /^(\d{1,3}(\.\d{1,3}){3}|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/;

function tlsSource(v: Record<string, string | undefined>, problems: string[]): TlsSource {
  const secretName = v['tls-secret'];
  if (secretName === undefined) {
    if (v['tls-cert'] === undefined) problems.push('--tls-cert: required, or --tls-secret for self-managed TLS (the apiserver only calls webhooks over HTTPS)');
    if (v['tls-key'] === undefined) problems.push('--tls-key: required with --tls-cert');
    return { kind: 'files', certFile: v['tls-cert'] ?? '', keyFile: v['tls-key'] ?? '' };
  }
  if (v['tls-cert'] !== undefined || v['tls-key'] !== undefined) problems.push('--tls-secret: choose it or --tls-cert/--tls-key, not both');
  if (v.cluster !== undefined) problems.push('--tls-secret: needs the cluster (--kubeconfig or in-cluster), not a --cluster snapshot');
  const hosts = (v['tls-hosts'] ?? '').split(',').map((h) => h.trim()).filter((h) => h !== '');
  if (hosts.length === 0) problems.push('--tls-hosts: required with --tls-secret (the DNS names or IPv4 addresses the apiserver calls, comma-separated)');
  for (const host of hosts) if (!HOST.test(host)) problems.push(`--tls-hosts: ${JSON.stringify(host)} is not a DNS name or an IPv4 address`);
  const webhookConfiguration = v['webhook-configuration'];
  if (webhookConfiguration === undefined) problems.push('--webhook-configuration: required with --tls-secret (the ValidatingWebhookConfiguration whose caBundle Countersign keeps)');
  return { kind: 'self-managed', secretName, hosts, webhookConfiguration: webhookConfiguration ?? '' };
}

function checkServeFiles(v: Record<string, string | undefined>, problems: string[]): void {
  if (v.cluster !== undefined && v.kubeconfig !== undefined) problems.push('--cluster and --kubeconfig: choose one');
  for (const flag of ['config', 'tls-cert', 'tls-key', 'cluster', 'kubeconfig']) readable(v[flag], `--${flag}`, problems);
}

export function parseServeArgs(argv: string[]): ServeSettings {
  const v = parse(argv, {
    config: { type: 'string' }, address: { type: 'string' }, port: { type: 'string' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, cluster: { type: 'string' },
    kubeconfig: { type: 'string' }, 'log-level': { type: 'string' }, 'reload-interval-ms': { type: 'string' },
    'capture-dir': { type: 'string' }, 'tls-secret': { type: 'string' }, 'tls-hosts': { type: 'string' },
    'webhook-configuration': { type: 'string' },
  });
  const problems: string[] = [];
  const port = wholeNumber(v.port, '--port', [0, 65535], problems) ?? SERVE_DEFAULTS.port;
  const reloadIntervalMs = wholeNumber(v['reload-interval-ms'], '--reload-interval-ms', [100, 600_000], problems) ?? SERVE_DEFAULTS.reloadIntervalMs;
  const logLevel = (v['log-level'] ?? SERVE_DEFAULTS.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`--log-level: must be one of ${LOG_LEVELS.join(', ')}`);
  checkServeFiles(v, problems);
  const tls = tlsSource(v, problems);
  if (problems.length > 0) throw new UsageError(problems);
  return {
    ...present({ config: v.config, cluster: v.cluster, kubeconfig: v.kubeconfig, captureDir: v['capture-dir'] }),
    address: v.address ?? SERVE_DEFAULTS.address,
    port, tls, logLevel, reloadIntervalMs,
  };
}

export function parseEvaluateArgs(argv: string[]): EvaluateSettings {
  const v = parse(argv, { review: { type: 'string' }, cluster: { type: 'string' }, config: { type: 'string' }, identities: { type: 'string' } });
  const problems: string[] = [];
  if (v.review === undefined) problems.push('--review: required (a file holding an AdmissionReview, or - for stdin)');
  if (v.review !== '-') readable(v.review, '--review', problems);
  readable(v.cluster, '--cluster', problems);
  readable(v.config, '--config', problems);
  readable(v.identities, '--identities', problems);
  if (problems.length > 0) throw new UsageError(problems);
  return {
    review: v.review ?? '-',
    ...present({ cluster: v.cluster, config: v.config, identities: v.identities }),
  };
}

export function parseCheckArgs(argv: string[]): { config: string } {
  const v = parse(argv, { config: { type: 'string' } });
  if (v.config === undefined) throw new UsageError(['--config: required']);
  return { config: v.config };
}
