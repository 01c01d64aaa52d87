// A real Prometheus (the pinned release `npm run prometheus:build` writes, with promtool; see prometheus-tools.ts)
// for the end-to-end tests: its own binary on a free 127.0.0.1 port, its own TSDB in a temporary directory, scraping Countersign's replicas and the apiserver, with
// rule files loaded; and a small client for its HTTP API.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './control-plane.ts';
import { requireTool } from './prometheus-tools.ts';

export { requireTool } from './prometheus-tools.ts';

export interface ScrapeJob {
  job: string;
  /** host:port */
  targets: string[];
  scheme: 'http' | 'https';
  caFile?: string;
  /** A file holding a bearer token (the apiserver's /metrics needs one). */
  bearerTokenFile?: string;
  /** Keep only series whose name matches (a regex), to keep a big endpoint's scrape cheap. */
  keep?: string;
  /** Extra labels on every series of the job. */
  labels?: Record<string, string>;
  interval?: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Series {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  value: string;
}

export interface RuleGroup {
  name: string;
  rules: { name: string; type: string; health: string; lastError?: string; state?: string }[];
}

export interface Prometheus {
  url: string;
  pid: number;
  dir: string;
  query(expr: string, time?: number): Promise<Sample[]>;
  queryRange(expr: string, range: { start: number; end: number; step: number }): Promise<Series[]>;
  alerts(): Promise<Alert[]>;
  rules(): Promise<RuleGroup[]>;
  /** Stops the server and removes its TSDB. */
  stop(): Promise<void>;
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], input?: string): ToolRun {
  const result = spawnSync(requireTool('promtool'), args, { encoding: 'utf8', timeout: 60_000, ...(input === undefined ? {} : { input }) });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** GET over HTTP(S); resolves with the status and body whatever the status. */
export function httpGet(url: string, options: { ca?: string; token?: string } = {}): Promise<{ status: number; body: string }> {
  const target = new URL(url);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, {
      method: 'GET',
      agent: false,
      timeout: 10_000,
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { body += chunk; });
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); });
    });
    req.on('timeout', () => { req.destroy(new Error(`GET ${url} timed out`)); });
    req.on('error', reject);
    req.end();
  });
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  error?: string;
  errorType?: string;
}

async function api<T>(base: string, path: string, params: Record<string, string> = {}): Promise<T> {
  const url = `${base}${path}?${new URLSearchParams(params).toString()}`;
  const { status, body } = await httpGet(url);
  const answer = JSON.parse(body) as ApiAnswer<T>;
  if (status !== 200 || answer.status !== 'success') {
    throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${status} ${answer.errorType ?? ''} ${answer.error ?? body}`);
  }
  return answer.data;
}

function scrapeConfig(job: ScrapeJob): Record<string, unknown> {
  return {
    job_name: job.job,
    scheme: job.scheme,
    ...(job.interval === undefined ? {} : { scrape_interval: job.interval, scrape_timeout: job.interval }),
    ...(job.caFile === undefined ? {} : { tls_config: { ca_file: job.caFile } }),
    ...(job.bearerTokenFile === undefined ? {} : { authorization: { type: 'Bearer', credentials_file: job.bearerTokenFile } }),
    static_configs: [{ targets: job.targets, ...(job.labels === undefined ? {} : { labels: job.labels }) }],
    ...(job.keep === undefined ? {} : { metric_relabel_configs: [{ source_labels: ['__name__'], regex: job.keep, action: 'keep' }] }),
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitReady(url: string, pid: number, logFile: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!alive(pid)) throw new Error(`prometheus exited: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    try {
      if ((await httpGet(`${url}/-/ready`)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`prometheus did not become ready within 30 s; see ${logFile}`);
}

/**
 * Starts Prometheus scraping `jobs` every `interval` and evaluating `ruleFiles` as often, in a temporary directory
 * (configuration, TSDB, log). stop() kills it and removes the TSDB.
 */
export async function startPrometheus(options: { jobs: ScrapeJob[]; ruleFiles?: string[]; interval?: string; logFile?: string }): Promise<Prometheus> {
  const binary = requireTool('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'countersign-prometheus-'));
  const interval = options.interval ?? '1s';
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    ...(options.ruleFiles === undefined ? {} : { rule_files: options.ruleFiles }),
    scrape_configs: options.jobs.map(scrapeConfig),
  };
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const check = promtool(['check', 'config', configFile]);
  if (check.code !== 0) throw new Error(`promtool check config: ${check.stdout}${check.stderr}`);
  mkdirSync(join(dir, 'data'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = options.logFile ?? join(dir, 'prometheus.log');
  const out = openSync(logFile, 'w');
  const child = spawn(binary, [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--storage.tsdb.retention.time=1h',
    '--log.level=warn',
  ], { stdio: ['ignore', out, out] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start prometheus');
  const stop = async (): Promise<void> => {
    if (alive(pid)) {
      child.kill('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 100));
      if (alive(pid)) child.kill('SIGKILL');
    }
    rmSync(join(dir, 'data'), { recursive: true, force: true });
  };
  // If the test process dies first, the server must not outlive it.
  process.once('exit', () => { if (alive(pid)) child.kill('SIGKILL'); });
  await waitReady(url, pid, logFile);
  return {
    url,
    pid,
    dir,
    query: async (expr, time) => (await api<{ result: Sample[] }>(url, '/api/v1/query', { query: expr, ...(time === undefined ? {} : { time: String(time) }) })).result,
    queryRange: async (expr, range) => (await api<{ result: Series[] }>(url, '/api/v1/query_range', {
      query: expr, start: String(range.start), end: String(range.end), step: String(range.step),
    })).result,
    alerts: async () => (await api<{ alerts: Alert[] }>(url, '/api/v1/alerts')).alerts,
    rules: async () => (await api<{ groups: RuleGroup[] }>(url, '/api/v1/rules')).groups,
    stop,
  };
}
