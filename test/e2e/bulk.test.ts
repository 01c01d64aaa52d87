// Cumulative effects against the real control plane, judged by outcome (the objects read back as admin): a bulk
// image change across 30 production Deployments held at the threshold (10 in 5 minutes), and a 4 -> 2 -> 1
// scale-down gated at the step that crosses half of the workload's replicas. The same by a human passes.
// Fresh agents (ServiceAccounts in `agents`), so no other e2e file's activity counts against them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { countersignPort, kubeconfigPath, startReplica, stopProcess, type Replica } from '../harness/control-plane.ts';
import { capturedReview, E2E_DIR, eventually, kubectlAs, mustKubectl, postReview, sleep, webhookDecisions } from './kube.ts';

const NS = 'bulk-e2e-prod';
const BULK_AGENT = 'bulk-e2e-bot';
const SCALE_AGENT = 'scale-e2e-bot';
const RACE_AGENT = 'race-e2e-bot';
const COUNT = 30;
const OLD_IMAGE = 'registry.example/shop/web:1.0';
const NEW_IMAGE = 'registry.example/shop/web:1.1';

function deployment(name: string, replicas: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}}
spec:
  replicas: ${String(replicas)}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: web, image: ${OLD_IMAGE}}]}
`;
}

/** A new agent: a ServiceAccount in `agents` with `edit` in NS, and a kubeconfig beside the harness's own. */
function agentNamed(name: string): void {
  mustKubectl('admin', ['create', 'serviceaccount', name, '-n', 'agents']);
  mustKubectl('admin', ['create', 'rolebinding', `${name}-edit`, '-n', NS, '--clusterrole=edit', `--serviceaccount=agents:${name}`]);
  const token = mustKubectl('admin', ['create', 'token', name, '-n', 'agents', '--duration', '2h']).trim();
  const coder = readFileSync(kubeconfigPath(E2E_DIR, 'coder'), 'utf8');
  writeFileSync(kubeconfigPath(E2E_DIR, name), coder.replace(/token: "[^"]*"/, `token: "${token}"`).replaceAll('coder', name), { mode: 0o600 });
}

interface DeploymentState {
  name: string;
  image: string;
  replicas: number;
}

function activityName(agent: string): string {
  return `act-${createHash('sha256').update(`system:serviceaccount:agents:${agent}`).digest('hex')}`;
}

function deployments(): DeploymentState[] {
  const list = JSON.parse(mustKubectl('admin', ['get', 'deployments', '-n', NS, '-o', 'json'])) as {
    items: { metadata: { name: string }; spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } }[];
  };
  return list.items.map((d) => ({ name: d.metadata.name, image: d.spec.template.spec.containers[0]?.image ?? '', replicas: d.spec.replicas }));
}

const bulkName = (i: number): string => `bulk-${String(i).padStart(2, '0')}`;

beforeAll(async () => {
  mustKubectl('admin', ['create', 'namespace', NS]);
  mustKubectl('admin', ['label', 'namespace', NS, 'environment=production']);
  agentNamed(BULK_AGENT);
  agentNamed(SCALE_AGENT);
  agentNamed(RACE_AGENT);
  const docs = Array.from({ length: COUNT }, (_, i) => deployment(bulkName(i), 1));
  mustKubectl('admin', ['apply', '-f', '-'], [...docs, deployment('capacity-web', 4), deployment('capacity-api', 4)].join('---\n'));
  // The controller's status writes settle first, so an agent's patch is one admission, not a retried one.
  await eventually('the Deployments observed by their controller', 60_000, () => {
    const list = JSON.parse(mustKubectl('admin', ['get', 'deployments', '-n', NS, '-o', 'json'])) as { items: { metadata: { generation: number }; status?: { observedGeneration?: number } }[] };
    return list.items.length === COUNT + 2 && list.items.every((d) => d.status?.observedGeneration === d.metadata.generation) ? true : undefined;
  });
});

describe('a bulk image change across 30 production Deployments', () => {
  const runs: { code: number; stderr: string }[] = [];

  it('lets the first 10 through with the audit warning, and refuses the 11th and later by production-bulk-change', () => {
    for (let i = 0; i < COUNT; i++) runs.push(kubectlAs(BULK_AGENT, ['set', 'image', `deployment/${bulkName(i)}`, `web=${NEW_IMAGE}`, '-n', NS]));
    const passed = runs.map((r) => r.code === 0);
    expect(passed).toEqual(Array.from({ length: COUNT }, (_, i) => i < 10));
    for (const run of runs.slice(0, 10)) expect(run.stderr).toContain('Countersign audit (rule production-change)');
    for (const run of runs.slice(10)) {
      expect(run.stderr).toContain('rule production-bulk-change');
      expect(run.stderr).toMatch(/11 production objects changed by \S+ within 5m and 11 within 1h; the bulk thresholds are 10 and 30/);
    }
  });

  it('was counted without an API round trip per request: the agent\'s record was written fewer times than it was counted', () => {
    const name = activityName(BULK_AGENT);
    const record = JSON.parse(mustKubectl('admin', ['get', 'agentactivities', name, '-n', 'countersign', '-o', 'json'])) as { metadata: { generation: number } };
    // Every write of the spec is a new generation (the first is the create). 10 counted requests, leases of 4.
    process.stderr.write(`[bulk] 10 counted requests wrote ${BULK_AGENT}'s AgentActivity ${String(record.metadata.generation)} times\n`);
    expect(record.metadata.generation).toBeLessThan(10);
  });

  it('by outcome: exactly the first 10 Deployments have the new image', () => {
    const byName = new Map(deployments().map((d) => [d.name, d.image]));
    for (let i = 0; i < COUNT; i++) expect([bulkName(i), byName.get(bulkName(i))]).toEqual([bulkName(i), i < 10 ? NEW_IMAGE : OLD_IMAGE]);
  });

  it('a human\'s quota of 5 covers the retry of the 11th and 4 more Deployment updates there, then asks again', () => {
    const request = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(runs[10]?.stderr ?? '')?.[1];
    if (request === undefined) throw new Error(`no approval command in: ${runs[10]?.stderr ?? ''}`);
    expect(mustKubectl('sre-a', ['countersign', 'approve', request, '--reason', 'planned release of 1.1', '--quota', '5', '--ttl', '10m']))
      .toContain(`a quota of 5`);
    const covered = [10, 11, 12, 13, 14, 15].map((i) => kubectlAs(BULK_AGENT, ['set', 'image', `deployment/${bulkName(i)}`, `web=${NEW_IMAGE}`, '-n', NS]));
    expect(covered.map((r) => r.code === 0)).toEqual([true, true, true, true, true, false]);
    expect(covered[4]?.stderr).toMatch(/allowed under quota .* by sre-a \(5 of 5 used\)/);
    expect(covered[5]?.stderr).toContain('rule production-bulk-change');
    // Not another kind of change: a quota for Deployment updates does not cover a ConfigMap.
    const configMap = kubectlAs(BULK_AGENT, ['create', 'configmap', 'bulk-extra', '-n', NS, '--from-literal=a=b']);
    expect(configMap.code).not.toBe(0);
    expect(configMap.stderr).toContain('rule production-bulk-change');
    const byName = new Map(deployments().map((d) => [d.name, d.image]));
    for (let i = 0; i < COUNT; i++) expect([bulkName(i), byName.get(bulkName(i))]).toEqual([bulkName(i), i < 15 ? NEW_IMAGE : OLD_IMAGE]);
  });

  it('a human doing the same passes', () => {
    for (let i = 15; i < COUNT; i++) mustKubectl('admin', ['set', 'image', `deployment/${bulkName(i)}`, `web=${NEW_IMAGE}`, '-n', NS]);
    const images = deployments().filter((d) => d.name.startsWith('bulk-')).map((d) => d.image);
    expect(images).toEqual(Array.from({ length: COUNT }, () => NEW_IMAGE));
  });
});

describe('a 4 -> 2 -> 1 scale-down', () => {
  it('passes at 4 -> 2 (half) and is refused at 2 -> 1 by production-capacity-removed, through scale and through the spec', () => {
    const half = kubectlAs(SCALE_AGENT, ['scale', 'deployment/capacity-web', '--replicas=2', '-n', NS]);
    expect(half.code).toBe(0);
    const further = kubectlAs(SCALE_AGENT, ['scale', 'deployment/capacity-web', '--replicas=1', '-n', NS]);
    expect(further.code).not.toBe(0);
    expect(further.stderr).toContain('rule production-capacity-removed');
    expect(further.stderr).toContain('removes 75% of its replicas within an hour; the limit is 50%');
    const patched = kubectlAs(SCALE_AGENT, ['patch', 'deployment/capacity-web', '-n', NS, '-p', '{"spec":{"replicas":1}}']);
    expect(patched.code).not.toBe(0);
    expect(patched.stderr).toContain('rule production-capacity-removed');
    expect(deployments().find((d) => d.name === 'capacity-web')?.replicas).toBe(2);
  });

  it('in small steps 4 -> 3 -> 2 passes, 2 -> 1 does not', () => {
    for (const replicas of [3, 2]) expect(kubectlAs(SCALE_AGENT, ['scale', 'deployment/capacity-api', `--replicas=${String(replicas)}`, '-n', NS]).code).toBe(0);
    const last = kubectlAs(SCALE_AGENT, ['scale', 'deployment/capacity-api', '--replicas=1', '-n', NS]);
    expect(last.stderr).toContain('rule production-capacity-removed');
    expect(deployments().find((d) => d.name === 'capacity-api')?.replicas).toBe(2);
  });

  it('a human doing the same passes', () => {
    mustKubectl('admin', ['scale', 'deployment/capacity-web', '--replicas=1', '-n', NS]);
    mustKubectl('admin', ['scale', 'deployment/capacity-api', '--replicas=1', '-n', NS]);
    expect(deployments().filter((d) => d.name.startsWith('capacity-')).map((d) => d.replicas)).toEqual([1, 1]);
  });
});

describe('two Countersign replicas sharing one agent\'s record', () => {
  let replica: Replica | undefined;
  beforeAll(async () => { replica = await startReplica(E2E_DIR); });
  afterAll(async () => { if (replica !== undefined) await stopProcess(replica.pid); });

  it('let no more than the budget through when 20 of the agent\'s changes reach both at once, and count each one let through', async () => {
    // One real change, so the apiserver's own AdmissionReview of it can be sent again (as its retries would be).
    mustKubectl(RACE_AGENT, ['label', 'deployment/bulk-29', '-n', NS, 'race=1']);
    const logged = webhookDecisions().filter((d) => d.requester === `system:serviceaccount:agents:${RACE_AGENT}`).at(-1);
    if (logged === undefined) throw new Error('the first change was not logged');
    const body = JSON.parse(capturedReview(logged.uid)) as { request: { uid: string } };
    const ports = [countersignPort(E2E_DIR), replica!.port];
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => {
      const copy = { ...body, request: { ...body.request, uid: `${body.request.uid.slice(0, -4)}${String(1000 + i)}` } };
      return postReview(ports[i % 2]!, JSON.stringify(copy));
    }));
    const allowed = answers.filter((a) => a.response.allowed).length;
    expect(allowed).toBeLessThanOrEqual(9);
    expect(allowed).toBeGreaterThanOrEqual(1);
    for (const answer of answers.filter((a) => !a.response.allowed)) {
      expect(answer.response.status?.message).toMatch(/rule production-bulk-change|kept changing under concurrent requests/);
    }
    // Once the leases are handed back (3 s idle, or at their 5 s expiry, well within the 10 s grace before another
    // replica would fold them in full), the record holds exactly what was let through.
    await sleep(8_000);
    const record = JSON.parse(mustKubectl('admin', ['get', 'agentactivities', activityName(RACE_AGENT), '-n', 'countersign', '-o', 'json'])) as {
      spec: { buckets?: { counter: string; count: number }[]; leases?: { counter: string; units: number }[] };
    };
    const counted = (record.spec.buckets ?? []).filter((b) => b.counter === 'changes:production').reduce((n, b) => n + b.count, 0);
    const leased = (record.spec.leases ?? []).filter((l) => l.counter === 'changes:production').reduce((n, l) => n + l.units, 0);
    process.stderr.write(`[bulk] two replicas: ${String(allowed)} of 20 concurrent changes allowed after 1; record counts ${String(counted)} (+ ${String(leased)} leased)\n`);
    expect(leased).toBe(0);
    expect(counted).toBe(allowed + 1);
  });
});
