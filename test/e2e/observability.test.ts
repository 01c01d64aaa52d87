// Observability with a real Prometheus: it scrapes four Countersign processes and the real apiserver while an agent
// is denied, audited and approved through real kubectl, and while things go wrong for real (malformed reviews, a
// refused configuration, a replica that cannot see the cluster, one that is stopped, a webhook copy that fails open,
// one that cannot be reached). No event is sent ahead to create a series: each counted alert is seen to fire on the
// first event of a series Prometheus has never seen, with the exact count as its value. Every stat and bar gauge of
// the chart's dashboard is evaluated through Prometheus's HTTP API and compared with the actions performed; every
// alert of its PrometheusRule fires; its promtool unit tests (test/prometheus/rules.test.yaml) pass.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT, countersignPort, kubeconfigPath, requireHelm, startReplica, stopProcess, type Replica } from '../harness/control-plane.ts';
import { evaluateDashboard, finite, isInstant, queryPanels, saveDashboardData, type Dashboard, type EvaluatedPanel } from '../harness/dashboard.ts';
import { httpGet, promtool, requireTool, startPrometheus, type Alert, type Prometheus, type Sample } from '../harness/prometheus.ts';
import { E2E_DIR, capturedReview, kubectlAs, mustKubectl, postReview, sleep, webhookDecisions } from './kube.ts';

const CHART = join(ROOT, 'charts', 'countersign');
const DASHBOARD_FILE = join(CHART, 'dashboards', 'countersign.json');
/** Where the picture's data goes (scripts/render-dashboard-svg.mjs draws docs/dashboard.svg from it). */
const DATA_FILE = process.env.COUNTERSIGN_DASHBOARD_DATA ?? join(ROOT, '.run', 'observability', 'dashboard-data.json');

const AGENT = 'observed';
const AGENT_USER = `system:serviceaccount:agents:${AGENT}`;
const PROD = 'obs-prod';
const DEV = 'obs-dev';
const FAIL_OPEN_NS = 'obs-fail-open';
const UNREACHABLE_NS = 'obs-unreachable';
const JOB = 'countersign';
const WEBHOOK = 'agents.countersign.dev';
const work = mkdtempSync(join(tmpdir(), 'countersign-observability-'));
const policyFile = join(work, 'policy.yaml');
/** The window of the counted alerts: Prometheus scrapes every target for this long before the first action. */
const ALERT_WINDOW_SECONDS = 20;

/**
 * Chart values a test can make every alert fire with: low thresholds, no `for`, a 1 s webhook timeout. The rules
 * are rendered for a configuration whose quiet watches are re-established after 10 s (the replicas run the default
 * 70 s, so theirs lag) and whose serving certificates live 10 days (the harness's live 2 days: less than a quarter).
 */
const TEST_VALUES = {
  webhook: { timeoutSeconds: 1 },
  grafana: { dashboards: { enabled: true } },
  config: { picture: { idleRestartSeconds: 10, staleAfterSeconds: 30 }, tls: { certValiditySeconds: 10 * 86_400 } },
  prometheusRule: {
    enabled: true,
    selector: `job="${JOB}"`,
    alertLabels: { team: 'platform' },
    alerts: {
      down: { enabled: true, replicas: 4, for: '0s', severity: 'critical' },
      reviewErrors: { enabled: true, threshold: 0, window: `${ALERT_WINDOW_SECONDS}s`, for: '0s', severity: 'warning' },
      webhookCallErrors: { enabled: true, threshold: 0, window: `${ALERT_WINDOW_SECONDS}s`, for: '0s', severity: 'critical' },
      failClosed: { enabled: true, threshold: 0, window: `${ALERT_WINDOW_SECONDS}s`, for: '0s', severity: 'warning' },
      latencyNearTimeout: { enabled: true, quantile: 0.99, timeoutRatio: 0.8, window: '10m', for: '0s', severity: 'warning' },
      policyLoadFailed: { enabled: true, for: '0s', severity: 'warning' },
      clusterPictureNotReady: { enabled: true, for: '0s', severity: 'critical' },
      clusterPictureLagging: { enabled: true, staleRatio: 0.05, idleMarginSeconds: 5, for: '0s', severity: 'warning' },
      approvalsPending: { enabled: true, threshold: 1, for: '0s', severity: 'warning' },
      approvalWaiting: { enabled: true, ttlRatio: 0.5, ageSeconds: 1, for: '0s', severity: 'info' },
      // Any real refusal (not a dry run): the agent's first one is the first sample of its series.
      agentDenials: { enabled: true, threshold: 0, window: `${ALERT_WINDOW_SECONDS}s`, for: '0s', severity: 'warning' },
      apiserverFailOpen: { enabled: true, threshold: 0, window: `${ALERT_WINDOW_SECONDS}s`, for: '0s', severity: 'critical' },
      certificateExpiring: { enabled: true, remainingRatio: 0.25, externalSeconds: 604_800, for: '0s', severity: 'critical' },
    },
  },
};

interface Doc {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: { groups: { name: string; rules: { alert: string; expr: string }[] }[] };
}

let prometheus: Prometheus | undefined;
let configured: Replica | undefined;
let blind: Replica | undefined;
let doomed: Replica | undefined;
let blackhole: Server | undefined;
const sockets = new Set<Socket>();
let rendered: Doc[] = [];
let rulesFile = '';
let alertNames: string[] = [];
/** When Prometheus had scraped every target once (ms), and the dashboard's range start (s). */
let allUpAt = 0;
let start = 0;
let baseline: Record<string, number> = {};
/** When the agent's delete of gate-3 was refused: its ApprovalRequest is the oldest one of this test (s). */
let gate3At = 0;

function target(port: number): string {
  return `127.0.0.1:${port}`;
}

function mainInstance(): string {
  return target(countersignPort(E2E_DIR));
}

function helm(extra: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(requireHelm(), ['template', 'countersign', CHART, '--namespace', 'countersign', '--kube-version', '1.37.1', ...extra], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function renderedDocs(args: string[]): Doc[] {
  const result = helm(args);
  if (result.code !== 0) throw new Error(`helm template: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Doc | null).filter((doc): doc is Doc => doc !== null);
}

function helmTemplate(): Doc[] {
  const valuesFile = join(work, 'values.yaml');
  writeFileSync(valuesFile, stringify(TEST_VALUES));
  return renderedDocs(['-f', valuesFile]);
}

/** The rule groups of the PrometheusRule rendered from `docs`, as a rule file. */
function writeRules(docs: Doc[], file: string): Doc {
  const rule = docs.find((doc) => doc.kind === 'PrometheusRule');
  if (rule?.spec === undefined) throw new Error('the chart rendered no PrometheusRule');
  writeFileSync(file, stringify({ groups: rule.spec.groups }));
  return rule;
}

/** One alert's expression as rendered with `args`. */
function renderedExpr(args: string[], alert: string): string {
  const rule = renderedDocs(['--set', 'prometheusRule.enabled=true', ...args]).find((doc) => doc.kind === 'PrometheusRule');
  const expr = rule?.spec?.groups.flatMap((group) => group.rules).find((r) => r.alert === alert)?.expr;
  if (expr === undefined) throw new Error(`no ${alert} rendered with ${args.join(' ')}`);
  return expr;
}

function requestNameIn(message: string): string {
  const name = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(message)?.[1];
  if (name === undefined) throw new Error(`no approval command in: ${message}`);
  return name;
}

/** A real ServiceAccount agent of our own, so its counts are ours alone whatever else the suite has done. */
function createAgent(): void {
  mustKubectl('admin', ['create', 'serviceaccount', AGENT, '-n', 'agents']);
  mustKubectl('admin', ['create', 'clusterrolebinding', `${AGENT}-inherited-engineer`, '--clusterrole=inherited-engineer', `--serviceaccount=agents:${AGENT}`]);
  const token = mustKubectl('admin', ['create', 'token', AGENT, '-n', 'agents', '--duration', '1h']).trim();
  const kubeconfig = readFileSync(kubeconfigPath(E2E_DIR, 'coder'), 'utf8').replace(/token: "[^"]*"/, `token: "${token}"`);
  writeFileSync(kubeconfigPath(E2E_DIR, AGENT), kubeconfig, { mode: 0o600 });
}

function namespace(name: string, environment: string): void {
  mustKubectl('admin', ['create', 'namespace', name]);
  mustKubectl('admin', ['label', 'namespace', name, `environment=${environment}`]);
}

/** A TCP listener that accepts connections and never answers: a webhook that times out. */
function startBlackhole(): Promise<number> {
  return new Promise((resolve) => {
    blackhole = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    });
    blackhole.listen(0, '127.0.0.1', () => {
      const address = blackhole?.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

/** A copy of Countersign's agents webhook, under its name, pointing at the black hole, for one namespace. */
function brokenCopy(ns: string, failurePolicy: 'Ignore' | 'Fail', port: number): string {
  const caBundle = Buffer.from(readFileSync(join(E2E_DIR, 'webhook', 'ca.crt'))).toString('base64');
  return JSON.stringify({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: { name: `obs-broken-${ns}` },
    webhooks: [{
      name: WEBHOOK,
      admissionReviewVersions: ['v1'],
      clientConfig: { url: `https://127.0.0.1:${port}/validate`, caBundle },
      failurePolicy,
      sideEffects: 'None',
      timeoutSeconds: 1,
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'], scope: 'Namespaced' }],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      matchConditions: [{ name: 'agents-only', expression: `request.userInfo.username == '${AGENT_USER}'` }],
    }],
  });
}

async function startScraping(): Promise<Prometheus> {
  const plane = JSON.parse(readFileSync(join(E2E_DIR, 'cluster', 'control-plane.json'), 'utf8')) as { server: string; caFile: string; tokens: Record<string, string> };
  const tokenFile = join(work, 'admin.token');
  writeFileSync(tokenFile, plane.tokens.admin ?? '', { mode: 0o600 });
  return startPrometheus({
    interval: '1s',
    ruleFiles: [rulesFile],
    logFile: join(E2E_DIR, 'prometheus.log'),
    jobs: [
      { job: JOB, scheme: 'https', caFile: join(E2E_DIR, 'webhook', 'ca.crt'), targets: [mainInstance(), target(configured!.port), target(blind!.port), target(doomed!.port)] },
      // The apiserver's /metrics is ~4 MB: every 2 s, keeping only the webhook series and its start time.
      { job: 'apiserver', scheme: 'https', caFile: plane.caFile, bearerTokenFile: tokenFile, targets: [new URL(plane.server).host], interval: '2s', keep: 'apiserver_admission_webhook_.*|process_start_time_seconds' },
    ],
  });
}

async function values(expr: string, time?: number): Promise<Sample[]> {
  return prometheus!.query(expr, time);
}

/** One number from an instant query (0 when there is no series). */
async function scalar(expr: string, time?: number): Promise<number> {
  const result = await values(expr, time);
  if (result.length > 1) throw new Error(`${expr}: ${result.length} series, expected one`);
  return result.length === 0 ? 0 : Number(result[0]!.value[1]);
}

/** Label value -> number, for an expression aggregated by one label. */
async function byLabel(expr: string, label: string): Promise<Record<string, number>> {
  return Object.fromEntries((await values(expr)).map((sample) => [sample.metric[label] ?? '', Number(sample.value[1])]));
}

/** Waits until Prometheus holds a series for `expr` with a value satisfying `ok` (it has scraped since). */
async function scrapedUntil(expr: string, ok: (value: number) => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const result = await values(expr);
    if (result.some((sample) => ok(Number(sample.value[1])))) return;
    if (Date.now() > deadline) throw new Error(`Prometheus never saw ${expr} (last: ${JSON.stringify(result)})`);
    await sleep(300);
  }
}

function asAgent(args: string[]): { code: number; stderr: string } {
  return kubectlAs(AGENT, args);
}

/** An agent action that must be refused by Countersign's deciding `rule`. */
function refused(args: string[], rule: string): string {
  const run = asAgent(args);
  expect(run.code).not.toBe(0);
  expect(run.stderr).toContain(`rule ${rule}`);
  return run.stderr;
}

function allowed(args: string[]): string {
  const run = asAgent(args);
  if (run.code !== 0) throw new Error(`kubectl ${args.join(' ')} as ${AGENT}: ${run.stderr}`);
  return run.stderr;
}

const decisions = (matchers: string): string => `countersign_admission_decisions_total{job="${JOB}", agent="${AGENT_USER}", ${matchers}}`;
const webhookSeries = (metric: string, matchers = ''): string => `sum(${metric}{job="apiserver", name="${WEBHOOK}"${matchers === '' ? '' : `, ${matchers}`}})`;

const APISERVER_COUNTS = {
  refusedByCountersign: webhookSeries('apiserver_admission_webhook_rejection_count', 'error_type="no_error", rejection_code="403"'),
  callErrors: webhookSeries('apiserver_admission_webhook_rejection_count', 'error_type="calling_webhook_error"'),
  failedOpen: webhookSeries('apiserver_admission_webhook_fail_open_count'),
  calls: `sum(apiserver_admission_webhook_request_total{job="apiserver", type="validating", name=~"(agents|approvals)[.]countersign[.]dev"})`,
  pending: `max(countersign_approval_requests{job="${JOB}", state="pending"})`,
};

beforeAll(async () => {
  requireTool('prometheus');
  requireTool('promtool');
  rendered = helmTemplate();
  rulesFile = join(work, 'rules.yaml');
  const rule = writeRules(rendered, rulesFile);
  alertNames = rule.spec!.groups.flatMap((group) => group.rules.map((r) => r.alert));
  // One alert per entry of TEST_VALUES: the checks below compare lists of them, which must not both be empty.
  if (alertNames.length !== Object.keys(TEST_VALUES.prometheusRule.alerts).length) {
    throw new Error(`the chart rendered ${String(alertNames.length)} alerts for ${String(Object.keys(TEST_VALUES.prometheusRule.alerts).length)} enabled: ${alertNames.join(', ')}`);
  }

  // A replica serving a configuration file (the approval gauges refreshed every second), one that cannot see the
  // cluster (dev-a may not list everything: its picture never becomes ready), one the test stops, and the
  // apiserver's first Countersign. Prometheus scrapes them from the start, while the test sets up the cluster.
  writeFileSync(policyFile, `${readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8')}\nmetrics:\n  approvalsRefreshSeconds: 1\n`);
  [configured, blind, doomed] = await Promise.all([
    startReplica(E2E_DIR, { config: policyFile }),
    startReplica(E2E_DIR, { identity: 'dev-a' }),
    startReplica(E2E_DIR, { identity: 'admin' }),
  ]);
  prometheus = await startScraping();

  createAgent();
  namespace(PROD, 'production');
  namespace(DEV, 'development');
  namespace(FAIL_OPEN_NS, 'development');
  namespace(UNREACHABLE_NS, 'development');
  for (let i = 1; i <= 7; i++) mustKubectl('admin', ['create', 'configmap', `gate-${i}`, '-n', PROD, '--from-literal=a=b']);
  const port = await startBlackhole();
  mustKubectl('admin', ['apply', '-f', '-'], brokenCopy(FAIL_OPEN_NS, 'Ignore', port));
  mustKubectl('admin', ['apply', '-f', '-'], brokenCopy(UNREACHABLE_NS, 'Fail', port));

  await scrapedUntil('count(up == 1)', (up) => up === 5);
  allUpAt = Date.now();
  // The replica the test stops lists the cluster in the background: ready before the range starts.
  await scrapedUntil(`countersign_cluster_picture_ready{instance="${target(doomed.port)}"}`, (ready) => ready === 1);
  // The dashboard's range starts once every target has been scraped: a panel counts what happened after it.
  await sleep(2500);
  start = Math.floor(Date.now() / 1000);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  for (const replica of [configured, blind, doomed]) if (replica !== undefined) await stopProcess(replica.pid);
  kubectlAs('admin', ['delete', 'validatingwebhookconfiguration', `obs-broken-${FAIL_OPEN_NS}`, `obs-broken-${UNREACHABLE_NS}`, '--ignore-not-found']);
  for (const socket of sockets) socket.destroy();
  blackhole?.close();
  rmSync(work, { recursive: true, force: true });
});

/** Waits for `expr` to reach `expected` (a scrape or a refresh may lag), then asserts it. */
async function expectValue(expr: string, expected: number): Promise<void> {
  let last = await scalar(expr);
  for (const deadline = Date.now() + 20_000; last !== expected && Date.now() < deadline; last = await scalar(expr)) await sleep(300);
  expect({ expr, value: last }).toEqual({ expr, value: expected });
}

async function expectByLabel(expr: string, label: string, expected: Record<string, number>): Promise<void> {
  const same = (values: Record<string, number>): boolean => Object.keys({ ...values, ...expected }).every((key) => values[key] === expected[key]);
  let last = await byLabel(expr, label);
  for (const deadline = Date.now() + 20_000; !same(last) && Date.now() < deadline; last = await byLabel(expr, label)) await sleep(300);
  expect({ expr, values: last }).toEqual({ expr, values: expected });
}

function matches(alert: Alert, name: string, labels: Record<string, string>): boolean {
  return alert.labels.alertname === name && Object.entries(labels).every(([key, value]) => alert.labels[key] === value);
}

/** Waits until the alert `name` with `labels` fires with the value `expected` (the count it saw), then asserts it. */
async function expectFiring(name: string, labels: Record<string, string>, expected: number): Promise<void> {
  const current = async (): Promise<string[]> => (await prometheus!.alerts())
    .filter((alert) => alert.state === 'firing' && matches(alert, name, labels))
    .map((alert) => alert.value);
  let seen = await current();
  for (const deadline = Date.now() + 15_000; !(seen.length === 1 && Number(seen[0]) === expected) && Date.now() < deadline; seen = await current()) await sleep(250);
  expect({ name, labels, values: seen.map(Number) }).toEqual({ name, labels, values: [expected] });
}

async function expectNotFiring(name: string): Promise<void> {
  expect((await prometheus!.alerts()).filter((alert) => alert.state === 'firing' && alert.labels.alertname === name)).toEqual([]);
}

describe('Countersign observed by a real Prometheus', () => {
  it('serves metrics promtool accepts, on every replica', async () => {
    const ca = readFileSync(join(E2E_DIR, 'webhook', 'ca.crt'), 'utf8');
    for (const port of [countersignPort(E2E_DIR), configured!.port, blind!.port, doomed!.port]) {
      const { status, body } = await httpGet(`https://127.0.0.1:${port}/metrics`, { ca });
      expect(status).toBe(200);
      const check = promtool(['check', 'metrics'], body);
      expect({ port, code: check.code, problems: `${check.stdout}${check.stderr}` }).toEqual({ port, code: 0, problems: '' });
    }
  });

  it('ships its rules to Prometheus (promtool accepts them and their unit tests pass) and its dashboard in a ConfigMap for Grafana\'s sidecar', async () => {
    const check = promtool(['check', 'rules', rulesFile]);
    expect(check.stdout).toContain(`SUCCESS: ${alertNames.length} rules found`);
    expect(check.code).toBe(0);
    // The unit tests (a first event fires, a counter reset or a newly scraped target does not, thresholds from the
    // configuration), on the rules rendered with the default alerts.
    const unit = join(work, 'unit');
    mkdirSync(unit);
    writeRules(renderedDocs(['-f', join(ROOT, 'test', 'prometheus', 'values.yaml')]), join(unit, 'rules.yaml'));
    copyFileSync(join(ROOT, 'test', 'prometheus', 'rules.test.yaml'), join(unit, 'rules.test.yaml'));
    expect(promtool(['check', 'rules', join(unit, 'rules.yaml')]).code).toBe(0);
    const tests = promtool(['test', 'rules', join(unit, 'rules.test.yaml')]);
    expect({ code: tests.code, output: `${tests.stdout}${tests.stderr}` }).toEqual({ code: 0, output: expect.stringContaining('SUCCESS') });
    // Prometheus loaded them (rule_files) and evaluates them without error.
    const loaded = (await prometheus!.rules()).flatMap((group) => group.rules);
    expect(loaded.map((r) => r.name)).toEqual(alertNames);
    expect(loaded.filter((r) => r.health !== 'ok')).toEqual([]);
    // Off by default (the operator's CRDs may not exist); the values schema refuses what would not work.
    expect(helm([]).stdout).not.toMatch(/kind: (PrometheusRule|ServiceMonitor)|countersign-dashboard/);
    expect(helm(['--set-string', 'prometheusRule.alerts.agentDenials.window=0']).stderr).toMatch(/agentDenials\/window/);
    expect(helm(['--set', 'prometheusRule.alerts.agentDenial.threshold=3']).stderr).toMatch(/additional properties 'agentDenial' not allowed/);
    expect(helm(['--set', 'metrics.serviceMonitor.enabled=true']).stdout).toMatch(/kind: ServiceMonitor[\s\S]*port: https\n\s+scheme: https/);
    const configMap = rendered.find((doc) => doc.kind === 'ConfigMap' && doc.metadata.name === 'countersign-dashboard');
    expect(configMap?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(configMap?.data?.['countersign.json'] ?? '{}')).toEqual(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')));
  });

  it('derives thresholds from the configuration, and refuses one an alert could never or would always fire at', () => {
    // The picture: above a quiet watch's age (idleRestartSeconds + 10 s) and 0.75 x staleAfterSeconds.
    expect(renderedExpr([], 'CountersignClusterPictureLagging')).toMatch(/ > 90$/);
    expect(renderedExpr(['--set', 'config.picture.staleAfterSeconds=100'], 'CountersignClusterPictureLagging')).toMatch(/ > 80$/);
    expect(helm(['--set', 'prometheusRule.enabled=true', '--set', 'config.picture.staleAfterSeconds=80']).stderr)
      .toMatch(/clusterPictureLagging: no room for the alert: a quiet watch normally ages to config picture\.idleRestartSeconds \(70 s\) \+ idleMarginSeconds \(10 s\) = 80 s/);
    // Approvals: half the request TTL, or an explicit age a pending request can reach.
    expect(renderedExpr([], 'CountersignApprovalWaiting')).toMatch(/ > 1800$/);
    expect(renderedExpr(['--set', 'config.approvals.requestTtlSeconds=900'], 'CountersignApprovalWaiting')).toMatch(/ > 450$/);
    expect(helm(['--set', 'prometheusRule.enabled=true', '--set', 'config.approvals.requestTtlSeconds=1200', '--set', 'prometheusRule.alerts.approvalWaiting.ageSeconds=1800']).stderr)
      .toMatch(/approvalWaiting: a pending request expires after config approvals\.requestTtlSeconds \(1200 s\)/);
    // Certificates: a quarter of the self-managed validity, 7 days otherwise, or the explicit value.
    expect(renderedExpr([], 'CountersignCertificateExpiring')).toMatch(/ < 648000$/);
    expect(renderedExpr(['--set', 'config.tls.certValiditySeconds=864000'], 'CountersignCertificateExpiring')).toMatch(/ < 216000$/);
    expect(renderedExpr(['--set', 'tls.mode=helm'], 'CountersignCertificateExpiring')).toMatch(/ < 604800$/);
    expect(renderedExpr(['--set', 'prometheusRule.alerts.certificateExpiring.seconds=100000'], 'CountersignCertificateExpiring')).toMatch(/ < 100000$/);
    // CountersignDown: the chart's ServiceMonitor's targets, replicaCount of them.
    expect(renderedExpr(['--set', 'replicaCount=3'], 'CountersignDown')).toBe('(count(up{namespace="countersign", job="countersign"} == 1) or vector(0)) < 3');
  });

  it('counts the agent\'s denied, audited and approved actions exactly, and so does the apiserver', async () => {
    baseline = Object.fromEntries(await Promise.all(Object.entries(APISERVER_COUNTS).map(async ([key, expr]) => [key, await scalar(expr)] as const)));
    // A dry run is refused like the real thing, but it is no action: the dashboard and the alerts leave it out.
    expect(refused(['delete', 'configmap', 'gate-7', '-n', PROD, '--dry-run=server'], 'production-delete')).toContain('dry runs have no side effects');
    await scrapedUntil(decisions('decision="denied", dry_run="true"'));
    await sleep(1500);
    await expectNotFiring('CountersignAgentHammeringDenials');
    // The counted alerts compare with a window ago: Prometheus must have scraped every target that long ago (a
    // target it was not scraping then may be one whose counters' past would read as new events).
    await sleep(Math.max(0, allUpAt + (ALERT_WINDOW_SECONDS + 2) * 1000 - Date.now()));
    // No warm-up: each first refusal, audit and approval creates its series. The agent's first refusal fires
    // CountersignAgentHammeringDenials (threshold 0 here), and so does its next, of another rule and resource.
    refused(['create', 'clusterrolebinding', `${AGENT}-admin-1`, '--clusterrole=cluster-admin', `--serviceaccount=agents:${AGENT}`], 'rbac-bind-cluster-admin');
    await expectFiring('CountersignAgentHammeringDenials', { agent: AGENT_USER, severity: 'warning' }, 1);
    const approved = requestNameIn(refused(['delete', 'configmap', 'gate-1', '-n', PROD], 'production-delete'));
    await expectFiring('CountersignAgentHammeringDenials', { agent: AGENT_USER }, 2);
    for (const i of [2, 3]) refused(['create', 'clusterrolebinding', `${AGENT}-admin-${i}`, '--clusterrole=cluster-admin', `--serviceaccount=agents:${AGENT}`], 'rbac-bind-cluster-admin');
    for (const i of [1, 2, 3]) expect(allowed(['create', 'configmap', `audited-${i}`, '-n', PROD, '--from-literal=a=b'])).toContain('Warning');
    allowed(['create', 'configmap', 'dev-1', '-n', DEV, '--from-literal=a=b']);
    const quota = requestNameIn(refused(['delete', 'configmap', 'gate-2', '-n', PROD], 'production-delete'));
    refused(['delete', 'configmap', 'gate-3', '-n', PROD], 'production-delete');
    gate3At = Date.now() / 1000;
    // A human approves the first request: the retry goes through once.
    mustKubectl('sre-a', ['countersign', 'approve', approved, '--reason', 'observability test']);
    expect(allowed(['delete', 'configmap', 'gate-1', '-n', PROD])).toContain('allowed with approval');
    // And grants a quota of two deletes through the second.
    mustKubectl('sre-a', ['countersign', 'approve', quota, '--reason', 'observability test', '--quota', '2', '--ttl', '10m']);
    for (const name of ['gate-4', 'gate-5']) expect(allowed(['delete', 'configmap', name, '-n', PROD])).toMatch(/allowed under quota/);
    refused(['delete', 'configmap', 'gate-6', '-n', PROD], 'production-delete');

    // Countersign's counts (the apiserver called the first Countersign only).
    const main = `instance="${mainInstance()}"`;
    await expectByLabel(`sum by (rule) (${decisions(`decision="denied", dry_run="false", ${main}`)})`, 'rule', { 'production-delete': 4, 'rbac-bind-cluster-admin': 3 });
    await expectByLabel(`sum by (rule) (${decisions(`decision="denied", dry_run="true", ${main}`)})`, 'rule', { 'production-delete': 1 });
    await expectByLabel(`sum by (tier) (${decisions(`decision="allowed", ${main}`)})`, 'tier', { allow: 1, audit: 3, 'require-approval': 3 });
    await expectValue(`sum(countersign_approvals_granted_total{job="${JOB}", agent="${AGENT_USER}"})`, 3);
    await expectValue(`sum(countersign_quota_uses_total{job="${JOB}", agent="${AGENT_USER}"})`, 2);
    await expectValue(`sum(countersign_budget_deletes_total{job="${JOB}", agent="${AGENT_USER}"})`, 3);
    // gate-3 and gate-6 wait for a human (the dry run recorded no request).
    await expectValue(APISERVER_COUNTS.pending, (baseline.pending ?? 0) + 2);
    // The apiserver's: 8 requests refused by Countersign's answer (the dry run too).
    await expectValue(APISERVER_COUNTS.refusedByCountersign, (baseline.refusedByCountersign ?? 0) + 8);
  });

  it('sees what goes wrong, each alert firing on the first event with the exact count: requests it cannot judge, malformed reviews, a replica stopped, a refused configuration, calls that fail open or fail', async () => {
    // The replica that cannot list everything refuses the agent's delete: its impact cannot be computed. Its first
    // fail-closed refusal is the first sample of a new series.
    const attempt = webhookDecisions().filter((d) => d.requester === AGENT_USER && d.name === 'gate-3' && d.operation === 'DELETE').at(-1);
    if (attempt === undefined) throw new Error('the agent\'s delete of gate-3 was not logged');
    const answer = await postReview(blind!.port, capturedReview(attempt.uid));
    expect(answer.response.status?.message).toMatch(/the impact of this request could not be computed/);
    await expectFiring('CountersignFailingClosed', { reason: 'impact-unavailable', team: 'platform' }, 1);
    expect((await postReview(blind!.port, capturedReview(attempt.uid))).response.allowed).toBe(false);
    await expectFiring('CountersignFailingClosed', { reason: 'impact-unavailable' }, 2);

    // Malformed reviews: one to the replica with a configuration file, then another, and one to a replica the test
    // stops: 3 of the 4 expected targets are up, and its error is still counted.
    const malformed = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(JSON.stringify(await postReview(configured!.port, malformed))).toContain('error');
    await expectFiring('CountersignReviewErrors', { reason: 'decode' }, 1);
    expect(JSON.stringify(await postReview(configured!.port, malformed))).toContain('error');
    expect(JSON.stringify(await postReview(doomed!.port, malformed))).toContain('error');
    await expectFiring('CountersignReviewErrors', { reason: 'decode' }, 3);
    await expectNotFiring('CountersignDown');
    await stopProcess(doomed!.pid);
    await expectFiring('CountersignDown', { severity: 'critical' }, 3);
    await expectFiring('CountersignReviewErrors', { reason: 'decode' }, 3);

    // A configuration the replica refuses on reload: it keeps serving the last good one.
    writeFileSync(policyFile, 'rules:\n  - name: broken\n    tier: deny\n    expression: "objct.metadata.name == \'x\'"\n');
    const brokenAt = Date.now();
    await expectFiring('CountersignPolicyLoadFailed', { instance: target(configured!.port) }, 0);

    // A copy of the webhook under its name with failurePolicy Ignore and a black hole behind it: the apiserver waits
    // its 1 s timeout and lets the request through. The apiserver creates fail_open_count with this first one.
    const failOpen = (name: string): void => { allowed(['create', 'configmap', name, '-n', FAIL_OPEN_NS, '--from-literal=a=b']); };
    failOpen('open-1');
    await expectFiring('CountersignApiserverFailedOpen', { name: WEBHOOK, severity: 'critical' }, 1);
    failOpen('open-2');
    failOpen('open-3');
    await expectFiring('CountersignApiserverFailedOpen', { name: WEBHOOK }, 3);
    // Another with Fail: the apiserver refuses, and creates its calling_webhook_error series with the first.
    const unreachable = (name: string): void => {
      expect(asAgent(['create', 'configmap', name, '-n', UNREACHABLE_NS, '--from-literal=a=b']).stderr).toContain(`failed calling webhook "${WEBHOOK}"`);
    };
    unreachable('down-1');
    await expectFiring('CountersignWebhookCallErrors', { name: WEBHOOK }, 1);
    unreachable('down-2');
    await expectFiring('CountersignWebhookCallErrors', { name: WEBHOOK }, 2);

    await expectValue(`sum(countersign_admission_review_errors_total{job="${JOB}", instance="${target(configured!.port)}", reason="decode"})`, 2);
    await expectValue(`sum(countersign_admission_fail_closed_total{job="${JOB}", instance="${target(blind!.port)}", agent="${AGENT_USER}"})`, 2);
    // Refused once, however often the file is polled since (every 2 s); the policy it serves is still the first.
    await sleep(Math.max(0, brokenAt + 6500 - Date.now()));
    expect(await scalar(`sum(countersign_policy_loads_total{job="${JOB}", instance="${target(configured!.port)}", result="error"})`)).toBe(1);
    expect(await scalar(`sum(countersign_policy_generation{job="${JOB}", instance="${target(configured!.port)}"})`)).toBe(1);
    await expectValue(APISERVER_COUNTS.failedOpen, (baseline.failedOpen ?? 0) + 3);
    await expectValue(APISERVER_COUNTS.callErrors, (baseline.callErrors ?? 0) + 2);
  });

  it('fired every alert of the chart\'s PrometheusRule during the run', async () => {
    // ALERTS holds every alert's state over time: what fired since the run started, whatever fires now.
    const firedSinceStart = async (): Promise<Record<string, string>[]> => (await values(`max_over_time(ALERTS{alertstate="firing"}[${Math.ceil(Date.now() / 1000) - start}s])`))
      .map((sample) => sample.metric);
    let fired = await firedSinceStart();
    const names = (): string[] => [...new Set(fired.map((labels) => labels.alertname ?? ''))].sort();
    for (const deadline = Date.now() + 30_000; names().length < alertNames.length && Date.now() < deadline; fired = await firedSinceStart()) await sleep(500);
    expect(names()).toEqual([...alertNames].sort());
    const labelsOf = (name: string): Record<string, string>[] => fired.filter((labels) => labels.alertname === name);
    expect(labelsOf('CountersignAgentHammeringDenials')).toEqual([expect.objectContaining({ agent: AGENT_USER, team: 'platform', severity: 'warning' })]);
    expect(labelsOf('CountersignApiserverFailedOpen')).toEqual([expect.objectContaining({ name: WEBHOOK, severity: 'critical' })]);
    expect(labelsOf('CountersignWebhookCallErrors')).toEqual([expect.objectContaining({ name: WEBHOOK })]);
    expect(labelsOf('CountersignWebhookSlow')).toContainEqual(expect.objectContaining({ name: WEBHOOK }));
    expect(labelsOf('CountersignPolicyLoadFailed')).toEqual([expect.objectContaining({ instance: target(configured!.port) })]);
    expect(labelsOf('CountersignCertificateExpiring')).toContainEqual(expect.objectContaining({ instance: target(configured!.port), severity: 'critical' }));
    expect(labelsOf('CountersignClusterPictureNotReady')).toEqual([expect.objectContaining({ instance: target(blind!.port) })]);
    expect(labelsOf('CountersignClusterPictureLagging')).toContainEqual(expect.objectContaining({ instance: target(blind!.port) }));
    expect(labelsOf('CountersignReviewErrors')).toEqual([expect.objectContaining({ reason: 'decode' })]);
    expect(labelsOf('CountersignFailingClosed')).toEqual([expect.objectContaining({ reason: 'impact-unavailable' })]);
    expect(labelsOf('CountersignDown')).toEqual([expect.objectContaining({ severity: 'critical', team: 'platform' })]);
  });

  it('shows on every stat and bar gauge of the dashboard the counts of the actions performed, and saves them for the picture in docs/dashboard.svg', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
    const end = Math.ceil(Date.now() / 1000) + 1;
    await sleep(2500);
    const panels: EvaluatedPanel[] = await evaluateDashboard(prometheus!, dashboard, { start, end, step: 1, job: JOB, rateInterval: '15s' });
    expect(panels.flatMap((p) => p.targets)).toHaveLength(queryPanels(dashboard).flatMap((p) => p.targets).length);
    const empty = panels.flatMap((panel) => panel.targets
      .filter((t) => !t.series.some((series) => series.values.some(([, value]) => finite(value))))
      .map((t) => `${panel.title} [${t.refId}]: ${t.expr}`));
    expect(empty).toEqual([]);

    // Each stat and bar gauge, as Grafana shows it (legend -> value), against what the test did.
    const legend = (format: string, metric: Record<string, string>): string => format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label: string) => metric[label] ?? '');
    // Breakdown panels (by agent, by rule) keep a row at 0 for a label whose series began before the window (other
    // suites' agents and rules, earlier in the same run): that is no action performed in it, so it is left out.
    const BREAKDOWNS = new Set(['Top agents by blocked actions', 'Top agents by audited actions', 'Rules that blocked agents', 'Approvals used by agent']);
    const shown = Object.fromEntries(panels.filter((p) => isInstant(p)).map((panel) => [panel.title, Object.fromEntries(panel.targets.flatMap((t) => t.series
      .map((series) => [legend(t.legendFormat, series.metric), Number(series.values.at(-1)?.[1])] as const)
      .filter(([, value]) => !(BREAKDOWNS.has(panel.title) && value === 0))))]));
    const raw = async (expr: string): Promise<number> => scalar(expr, end);
    const calls = (await raw(APISERVER_COUNTS.calls)) - (baseline.calls ?? 0);
    const generation = await raw(`max(countersign_policy_generation{job="${JOB}"})`);
    const objects = await raw(`max(countersign_cluster_picture_objects{job="${JOB}"})`);
    const resources = await raw(`max(countersign_cluster_picture_resources{job="${JOB}"})`);
    const oldest = shown['Oldest pending approval']?.oldest ?? NaN;
    const sinceGate3 = end - gate3At;
    if ((baseline.pending ?? 0) === 0) expect(Math.abs(oldest - sinceGate3)).toBeLessThan(3);
    else expect(oldest).toBeGreaterThan(sinceGate3 - 3);
    const agent = AGENT_USER;
    expect(shown).toEqual({
      // 7 refused by the apiserver's Countersign, 2 by the blind replica; not the dry run.
      'Blocked agent actions': { blocked: 9 },
      'Audited agent actions': { audited: 3 },
      // Once with a single-use approval, twice under a quota.
      'Approved agent actions': { approved: 3 },
      'Pending approvals': { pending: (baseline.pending ?? 0) + 2 },
      'Oldest pending approval': { oldest },
      'Refused: could not judge': { 'fail closed': 2 },
      'Top agents by blocked actions': { [agent]: 9 },
      'Top agents by audited actions': { [agent]: 3 },
      'Rules that blocked agents': { 'production-delete': 4, 'rbac-bind-cluster-admin': 3, 'impact-unavailable': 2 },
      'Approvals used by agent': { [agent]: 3, [`${agent} (quota)`]: 2 },
      'Apiserver failed open on Countersign': { 'failed open': 3 },
      'Apiserver could not call Countersign': { 'call errors': 2 },
      // Two to the replica with a configuration file, one to the replica that was stopped since.
      'Review errors': { errors: 3 },
      'Apiserver calls in range': { calls },
      'Policy generation': { generation },
      'Replicas serving an older policy': { refused: 1 },
      // The refused configuration, once.
      'Policy loads': { error: 1, ok: 0 },
      'Picture: objects and resources': { objects, resources },
      'Replicas with an unready picture': { unready: 1 },
      'Replicas up': { up: 3, scraped: 4 },
    });
    // The agent's 15 requests to Countersign's webhook in the counting test, 2 Approvals (approvals.countersign.dev),
    // and each create in the fail-open and the unreachable namespaces went to Countersign and to the broken copy.
    expect(calls).toBe(15 + 2 + 2 * 3 + 2 * 2);
    expect(generation).toBeGreaterThanOrEqual(1);
    expect(resources).toBeGreaterThan(0);
    const top = panels.find((p) => p.title === 'Top agents by blocked actions')?.targets[0]?.series ?? [];
    expect(top.map((series) => series.metric.agent)).toContain(AGENT_USER);

    // Where Prometheus has no Countersign (a job with no targets), every panel of Countersign's own metrics shows
    // no data rather than a reassuring 0.
    const absent = await evaluateDashboard(prometheus!, dashboard, { start, end, step: 5, job: 'no-such-job', rateInterval: '15s' });
    const own = absent.flatMap((panel) => panel.targets
      .filter((t) => t.expr.includes('no-such-job') && !t.expr.includes('apiserver_'))
      .map((t) => ({ name: `${panel.title} [${t.refId}]`, shown: t.series.length > 0 })));
    // The job was put into Countersign's own panels' queries: there is something to find empty.
    expect(own.length).toBeGreaterThan(10);
    expect(own.filter((t) => t.shown).map((t) => t.name)).toEqual([]);

    const firing = await values(`max_over_time(ALERTS{alertstate="firing"}[${end - start}s])`, end);
    saveDashboardData(DATA_FILE, { dashboard: dashboard.title, start, end, step: 1, panels, alerts: [...new Set(firing.map((s) => s.metric.alertname ?? ''))].sort() });
  });
});
