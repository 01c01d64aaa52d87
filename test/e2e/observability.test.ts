// Observability with a real Prometheus: it scrapes three Countersign processes and the real apiserver while an agent
// is denied, audited and approved through real kubectl, and while things go wrong for real (a malformed review, a
// refused configuration, a replica that cannot see the cluster, a webhook copy that fails open, one that cannot be
// reached). Then every expression of the chart's dashboard and every alert of its PrometheusRule is evaluated
// through Prometheus's HTTP API: each returns data, the counts are the actions performed, and every alert fires.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ROOT, countersignPort, kubeconfigPath, startReplica, stopProcess, type Replica } from '../harness/control-plane.ts';
import { evaluateDashboard, finite, queryPanels, saveDashboardData, type Dashboard, type EvaluatedPanel } from '../harness/dashboard.ts';
import { httpGet, promtool, requireTool, startPrometheus, type Prometheus, type Sample } from '../harness/prometheus.ts';
import { E2E_DIR, capturedReview, kubectlAs, mustKubectl, postReview, sleep, webhookDecisions } from './kube.ts';

const HELM = join(ROOT, 'test', 'helm', 'bin', 'helm');
const CHART = join(ROOT, 'charts', 'countersign');
const DASHBOARD_FILE = join(CHART, 'dashboards', 'countersign.json');
/** Where the picture's data goes (scripts/render-dashboard-png.mjs reads it). */
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

/** Chart values a test can make every alert fire with: low thresholds, no `for`, a 1 s webhook timeout. */
const TEST_VALUES = {
  webhook: { timeoutSeconds: 1 },
  grafana: { dashboards: { enabled: true } },
  prometheusRule: {
    enabled: true,
    selector: `job="${JOB}"`,
    alertLabels: { team: 'platform' },
    alerts: {
      reviewErrors: { enabled: true, threshold: 0, window: '10m', for: '0s', severity: 'warning' },
      webhookCallErrors: { enabled: true, threshold: 0, window: '10m', for: '0s', severity: 'critical' },
      failClosed: { enabled: true, threshold: 0, window: '10m', for: '0s', severity: 'warning' },
      latencyNearTimeout: { enabled: true, quantile: 0.99, timeoutRatio: 0.8, window: '10m', for: '0s', severity: 'warning' },
      policyLoadFailed: { enabled: true, for: '0s', severity: 'warning' },
      clusterPictureNotReady: { enabled: true, for: '0s', severity: 'critical' },
      clusterPictureLagging: { enabled: true, staleRatio: 0.05, for: '0s', severity: 'warning' },
      approvalsPending: { enabled: true, threshold: 1, for: '0s', severity: 'warning' },
      approvalWaiting: { enabled: true, ageSeconds: 1, for: '0s', severity: 'info' },
      agentDenials: { enabled: true, threshold: 2, window: '10m', for: '0s', severity: 'warning' },
      apiserverFailOpen: { enabled: true, threshold: 0, window: '10m', for: '0s', severity: 'critical' },
      // The harness's serving certificates live 2 days: "expiring within 3 days" is true of every replica.
      certificateExpiring: { enabled: true, seconds: 3 * 86_400, for: '0s', severity: 'critical' },
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
let blackhole: Server | undefined;
const sockets = new Set<Socket>();
let rendered: Doc[] = [];
let rulesFile = '';
let alertNames: string[] = [];
let start = 0;
let baseline: Record<string, number> = {};

function target(port: number): string {
  return `127.0.0.1:${port}`;
}

function mainInstance(): string {
  return target(countersignPort(E2E_DIR));
}

function helm(extra: string[]): { code: number; stdout: string; stderr: string } {
  const result = spawnSync(HELM, ['template', 'countersign', CHART, '--namespace', 'countersign', '--kube-version', '1.37.1', ...extra], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function helmTemplate(): Doc[] {
  const valuesFile = join(work, 'values.yaml');
  writeFileSync(valuesFile, stringify(TEST_VALUES));
  const result = helm(['-f', valuesFile]);
  if (result.code !== 0) throw new Error(`helm template: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as Doc | null).filter((doc): doc is Doc => doc !== null);
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
      { job: JOB, scheme: 'https', caFile: join(E2E_DIR, 'webhook', 'ca.crt'), targets: [mainInstance(), target(configured!.port), target(blind!.port)] },
      // The apiserver's /metrics is ~4 MB: every 2 s, keeping only the webhook series.
      { job: 'apiserver', scheme: 'https', caFile: plane.caFile, bearerTokenFile: tokenFile, targets: [new URL(plane.server).host], interval: '2s', keep: 'apiserver_admission_webhook_.*' },
    ],
  });
}

async function values(expr: string): Promise<Sample[]> {
  return prometheus!.query(expr);
}

/** One number from an instant query (0 when there is no series). */
async function scalar(expr: string): Promise<number> {
  const result = await values(expr);
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
  pending: `max(countersign_approval_requests{job="${JOB}", state="pending"})`,
};

beforeAll(async () => {
  requireTool('prometheus');
  requireTool('promtool');
  rendered = helmTemplate();
  const rule = rendered.find((doc) => doc.kind === 'PrometheusRule');
  if (rule?.spec === undefined) throw new Error('the chart rendered no PrometheusRule');
  rulesFile = join(work, 'rules.yaml');
  writeFileSync(rulesFile, stringify({ groups: rule.spec.groups }));
  alertNames = rule.spec.groups.flatMap((group) => group.rules.map((r) => r.alert));

  createAgent();
  namespace(PROD, 'production');
  namespace(DEV, 'development');
  namespace(FAIL_OPEN_NS, 'development');
  namespace(UNREACHABLE_NS, 'development');
  for (let i = 1; i <= 6; i++) mustKubectl('admin', ['create', 'configmap', `gate-${i}`, '-n', PROD, '--from-literal=a=b']);

  // A replica serving a configuration file (the approval gauges refreshed every second), one that cannot see the
  // cluster (dev-a may not list everything: its picture never becomes ready), and the apiserver's first Countersign.
  writeFileSync(policyFile, `${readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8')}\nmetrics:\n  approvalsRefreshSeconds: 1\n`);
  [configured, blind] = await Promise.all([startReplica(E2E_DIR, { config: policyFile }), startReplica(E2E_DIR, { identity: 'dev-a' })]);
  const port = await startBlackhole();
  mustKubectl('admin', ['apply', '-f', '-'], brokenCopy(FAIL_OPEN_NS, 'Ignore', port));
  mustKubectl('admin', ['apply', '-f', '-'], brokenCopy(UNREACHABLE_NS, 'Fail', port));

  prometheus = await startScraping();
  start = Math.floor(Date.now() / 1000);
  await scrapedUntil('count(up == 1)', (up) => up === 4);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  for (const replica of [configured, blind]) if (replica !== undefined) await stopProcess(replica.pid);
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

describe('Countersign observed by a real Prometheus', () => {
  it('serves metrics promtool accepts, on every replica', async () => {
    const ca = readFileSync(join(E2E_DIR, 'webhook', 'ca.crt'), 'utf8');
    for (const port of [countersignPort(E2E_DIR), configured!.port, blind!.port]) {
      const { status, body } = await httpGet(`https://127.0.0.1:${port}/metrics`, { ca });
      expect(status).toBe(200);
      const check = promtool(['check', 'metrics'], body);
      expect({ port, code: check.code, problems: `${check.stdout}${check.stderr}` }).toEqual({ port, code: 0, problems: '' });
    }
  });

  it('ships its rules to Prometheus (promtool accepts them) and its dashboard in a ConfigMap for Grafana\'s sidecar', async () => {
    const check = promtool(['check', 'rules', rulesFile]);
    expect(check.stdout).toContain(`SUCCESS: ${alertNames.length} rules found`);
    expect(check.code).toBe(0);
    // Prometheus loaded them (rule_files) and evaluates them without error.
    const loaded = (await prometheus!.rules()).flatMap((group) => group.rules);
    expect(loaded.map((r) => r.name)).toEqual(alertNames);
    await sleep(1500);
    expect((await prometheus!.rules()).flatMap((group) => group.rules).filter((r) => r.health !== 'ok')).toEqual([]);
    // Off by default (the operator's CRDs may not exist); the values schema refuses what would not work.
    expect(helm([]).stdout).not.toMatch(/kind: (PrometheusRule|ServiceMonitor)|countersign-dashboard/);
    expect(helm(['--set-string', 'prometheusRule.alerts.agentDenials.window=0']).stderr).toMatch(/agentDenials\/window/);
    expect(helm(['--set', 'prometheusRule.alerts.agentDenial.threshold=3']).stderr).toMatch(/additional properties 'agentDenial' not allowed/);
    expect(helm(['--set', 'metrics.serviceMonitor.enabled=true']).stdout).toMatch(/kind: ServiceMonitor[\s\S]*port: https\n\s+scheme: https/);
    const configMap = rendered.find((doc) => doc.kind === 'ConfigMap' && doc.metadata.name === 'countersign-dashboard');
    expect(configMap?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(configMap?.data?.['countersign.json'] ?? '{}')).toEqual(JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')));
  });

  it('counts the agent\'s denied, audited and approved actions exactly, and so does the apiserver', async () => {
    baseline = Object.fromEntries(await Promise.all(Object.entries(APISERVER_COUNTS).map(async ([key, expr]) => [key, await scalar(expr)] as const)));
    // One of each first, until Prometheus has the new series: an increase is measured from a series' first sample.
    refused(['create', 'clusterrolebinding', `${AGENT}-admin-1`, '--clusterrole=cluster-admin', `--serviceaccount=agents:${AGENT}`], 'rbac-bind-cluster-admin');
    expect(allowed(['create', 'configmap', 'audited-1', '-n', PROD, '--from-literal=a=b'])).toContain('Warning');
    allowed(['create', 'configmap', 'dev-1', '-n', DEV, '--from-literal=a=b']);
    const approved = requestNameIn(refused(['delete', 'configmap', 'gate-1', '-n', PROD], 'production-delete'));
    await scrapedUntil(decisions('decision="denied", rule="production-delete"'));
    await scrapedUntil(decisions('decision="denied", rule="rbac-bind-cluster-admin"'));
    await scrapedUntil(decisions('decision="allowed", tier="audit"'));

    for (const i of [2, 3]) refused(['create', 'clusterrolebinding', `${AGENT}-admin-${i}`, '--clusterrole=cluster-admin', `--serviceaccount=agents:${AGENT}`], 'rbac-bind-cluster-admin');
    for (const i of [2, 3]) expect(allowed(['create', 'configmap', `audited-${i}`, '-n', PROD, '--from-literal=a=b'])).toContain('Warning');
    const quota = requestNameIn(refused(['delete', 'configmap', 'gate-2', '-n', PROD], 'production-delete'));
    refused(['delete', 'configmap', 'gate-3', '-n', PROD], 'production-delete');
    // A human approves the first request: the retry goes through once.
    mustKubectl('sre-a', ['countersign', 'approve', approved, '--reason', 'observability test']);
    expect(allowed(['delete', 'configmap', 'gate-1', '-n', PROD])).toContain('allowed with approval');
    // And grants a quota of two deletes through the second.
    mustKubectl('sre-a', ['countersign', 'approve', quota, '--reason', 'observability test', '--quota', '2', '--ttl', '10m']);
    for (const name of ['gate-4', 'gate-5']) expect(allowed(['delete', 'configmap', name, '-n', PROD])).toMatch(/allowed under quota/);
    refused(['delete', 'configmap', 'gate-6', '-n', PROD], 'production-delete');

    // Countersign's counts (the apiserver called the first Countersign only).
    const main = `instance="${mainInstance()}"`;
    await expectByLabel(`sum by (rule) (${decisions(`decision="denied", ${main}`)})`, 'rule', { 'production-delete': 4, 'rbac-bind-cluster-admin': 3 });
    await expectByLabel(`sum by (tier) (${decisions(`decision="allowed", ${main}`)})`, 'tier', { allow: 1, audit: 3, 'require-approval': 3 });
    await expectValue(`sum(countersign_approvals_granted_total{job="${JOB}", agent="${AGENT_USER}"})`, 3);
    await expectValue(`sum(countersign_quota_uses_total{job="${JOB}", agent="${AGENT_USER}"})`, 2);
    await expectValue(`sum(countersign_budget_deletes_total{job="${JOB}", agent="${AGENT_USER}"})`, 3);
    // gate-3 and gate-6 wait for a human.
    await expectValue(APISERVER_COUNTS.pending, (baseline.pending ?? 0) + 2);
    // The apiserver's: 7 requests refused by Countersign's answer.
    await expectValue(APISERVER_COUNTS.refusedByCountersign, (baseline.refusedByCountersign ?? 0) + 7);
  });

  it('sees what goes wrong: malformed reviews, requests it cannot judge, a refused configuration, calls that fail open or fail', async () => {
    const errors = `sum(countersign_admission_review_errors_total{job="${JOB}", instance="${target(configured!.port)}", reason="decode"})`;
    const malformed = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
    expect(JSON.stringify(await postReview(configured!.port, malformed))).toContain('error');
    await scrapedUntil(errors);
    expect(JSON.stringify(await postReview(configured!.port, malformed))).toContain('error');

    // The replica that cannot list everything refuses the agent's delete: its impact cannot be computed.
    const attempt = webhookDecisions().filter((d) => d.requester === AGENT_USER && d.name === 'gate-3' && d.operation === 'DELETE').at(-1);
    if (attempt === undefined) throw new Error('the agent\'s delete of gate-3 was not logged');
    const failClosed = `sum(countersign_admission_fail_closed_total{job="${JOB}", instance="${target(blind!.port)}", agent="${AGENT_USER}"})`;
    const answer = await postReview(blind!.port, capturedReview(attempt.uid));
    expect(answer.response.status?.message).toMatch(/the impact of this request could not be computed/);
    await scrapedUntil(failClosed);
    expect((await postReview(blind!.port, capturedReview(attempt.uid))).response.allowed).toBe(false);

    // A configuration the replica refuses on reload: it keeps serving the last good one.
    writeFileSync(policyFile, 'rules:\n  - name: broken\n    tier: deny\n    expression: "objct.metadata.name == \'x\'"\n');
    await scrapedUntil(`countersign_policy_last_load_success{job="${JOB}", instance="${target(configured!.port)}"}`, (v) => v === 0);

    // A copy of the webhook under its name with failurePolicy Ignore and a black hole behind it: the apiserver waits
    // its 1 s timeout and lets the request through. Another with Fail: the apiserver refuses.
    allowed(['create', 'configmap', 'open-1', '-n', FAIL_OPEN_NS, '--from-literal=a=b']);
    await scrapedUntil(APISERVER_COUNTS.failedOpen, (v) => v > (baseline.failedOpen ?? 0));
    for (const name of ['open-2', 'open-3']) allowed(['create', 'configmap', name, '-n', FAIL_OPEN_NS, '--from-literal=a=b']);
    const unreachable = (name: string): void => {
      expect(asAgent(['create', 'configmap', name, '-n', UNREACHABLE_NS, '--from-literal=a=b']).stderr).toContain(`failed calling webhook "${WEBHOOK}"`);
    };
    unreachable('down-1');
    await scrapedUntil(APISERVER_COUNTS.callErrors, (v) => v > (baseline.callErrors ?? 0));
    unreachable('down-2');

    await expectValue(errors, 2);
    await expectValue(failClosed, 2);
    // Refused on every poll of the file until it is fixed (one count each); the policy it serves is still the first.
    expect(await scalar(`sum(countersign_policy_loads_total{job="${JOB}", instance="${target(configured!.port)}", result="error"})`)).toBeGreaterThanOrEqual(1);
    expect(await scalar(`sum(countersign_policy_generation{job="${JOB}", instance="${target(configured!.port)}"})`)).toBe(1);
    await expectValue(APISERVER_COUNTS.failedOpen, (baseline.failedOpen ?? 0) + 3);
    await expectValue(APISERVER_COUNTS.callErrors, (baseline.callErrors ?? 0) + 2);
  });

  it('fires every alert of the chart\'s PrometheusRule', async () => {
    let firing: { labels: Record<string, string> }[] = [];
    const names = (): string[] => [...new Set(firing.map((alert) => alert.labels.alertname ?? ''))].sort();
    const deadline = Date.now() + 45_000;
    for (;;) {
      firing = (await prometheus!.alerts()).filter((alert) => alert.state === 'firing');
      if (names().length >= alertNames.length || Date.now() > deadline) break;
      await sleep(500);
    }
    expect(names()).toEqual([...alertNames].sort());
    const labelsOf = (name: string): Record<string, string>[] => firing.filter((a) => a.labels.alertname === name).map((a) => a.labels);
    expect(labelsOf('CountersignAgentHammeringDenials')).toContainEqual(expect.objectContaining({ agent: AGENT_USER, team: 'platform', severity: 'warning' }));
    expect(labelsOf('CountersignApiserverFailedOpen')).toContainEqual(expect.objectContaining({ name: WEBHOOK, severity: 'critical' }));
    expect(labelsOf('CountersignWebhookCallErrors')).toContainEqual(expect.objectContaining({ name: WEBHOOK }));
    expect(labelsOf('CountersignWebhookSlow')).toContainEqual(expect.objectContaining({ name: WEBHOOK }));
    expect(labelsOf('CountersignPolicyLoadFailed')).toEqual([expect.objectContaining({ instance: target(configured!.port) })]);
    expect(labelsOf('CountersignCertificateExpiring')).toContainEqual(expect.objectContaining({ instance: target(configured!.port), severity: 'critical' }));
    expect(labelsOf('CountersignClusterPictureNotReady')).toEqual([expect.objectContaining({ instance: target(blind!.port) })]);
    expect(labelsOf('CountersignReviewErrors')).toContainEqual(expect.objectContaining({ reason: 'decode' }));
    expect(labelsOf('CountersignFailingClosed')).toContainEqual(expect.objectContaining({ reason: 'impact-unavailable' }));
  });

  it('returns data for every panel of the dashboard, and saves it for the README\'s picture', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
    const end = Math.ceil(Date.now() / 1000);
    const panels: EvaluatedPanel[] = await evaluateDashboard(prometheus!, dashboard, { start, end, step: 1, job: JOB, rateInterval: '15s' });
    expect(panels.flatMap((p) => p.targets)).toHaveLength(queryPanels(dashboard).flatMap((p) => p.targets).length);
    const empty = panels.flatMap((panel) => panel.targets
      .filter((t) => !t.series.some((series) => series.values.some(([, value]) => finite(value))))
      .map((t) => `${panel.title} [${t.refId}]: ${t.expr}`));
    expect(empty).toEqual([]);
    const top = panels.find((p) => p.title === 'Top agents by blocked actions')?.targets[0]?.series ?? [];
    expect(top.map((series) => series.metric.agent)).toContain(AGENT_USER);
    const firing = (await prometheus!.alerts()).filter((a) => a.state === 'firing').map((a) => a.labels.alertname ?? '');
    saveDashboardData(DATA_FILE, { dashboard: dashboard.title, start, end, step: 1, panels, alerts: [...new Set(firing)].sort() });
  });
});
