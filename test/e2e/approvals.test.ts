// Human approvals against the real apiserver: an agent's gated action becomes a request; a human approves it with
// `kubectl countersign`; the agent's retry of exactly that action goes through once. And the attacks.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, countersignPort, startReplica, stopProcess, type Replica } from '../harness/control-plane.ts';
import { capturedReview, E2E_DIR, kubectlAs, mustKubectl, postReview, webhookDecisions } from './kube.ts';

const NS = 'appr-prod';
const keys = mkdtempSync(join(tmpdir(), 'countersign-e2e-keys-'));

function sshKey(name: string): string {
  const file = join(keys, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  return file;
}

/** The request name the agent was told to have approved. */
function requestNameIn(message: string): string {
  const name = /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(message)?.[1];
  if (name === undefined) throw new Error(`no approval command in: ${message}`);
  return name;
}

function deployment(name: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${NS}}
spec:
  replicas: 2
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: app, image: registry.example/app:1}]}
`;
}

let sreA = '';
let sreB = '';
let stranger = '';

beforeAll(() => {
  sreA = sshKey('sre-a');
  sreB = sshKey('sre-b');
  stranger = sshKey('stranger');
  const signers = [`sre-a ${readFileSync(`${sreA}.pub`, 'utf8').trim()}`, `sre-b ${readFileSync(`${sreB}.pub`, 'utf8').trim()}`].join('\n');
  mustKubectl('admin', ['create', 'secret', 'generic', 'countersign-allowed-signers', '-n', 'countersign', `--from-literal=allowed_signers=${signers}\n`]);
  mustKubectl('admin', ['create', 'namespace', NS]);
  mustKubectl('admin', ['label', 'namespace', NS, 'environment=production']);
  for (const name of ['web', 'api', 'worker']) mustKubectl('admin', ['apply', '-f', '-'], deployment(name));
});
afterAll(() => { rmSync(keys, { recursive: true, force: true }); });

describe('an approved action', () => {
  let request = '';

  it('is refused first, recorded as a request, and the agent is told the command', () => {
    const run = kubectlAs('coder', ['delete', 'deployment', 'web', '-n', NS]);
    expect(run.code).not.toBe(0);
    request = requestNameIn(run.stderr);
    expect(run.stderr).toContain('is pending (0 of 1 approvals)');
    const list = mustKubectl('sre-a', ['countersign', 'list', '-n', NS]);
    expect(list).toContain(request);
    expect(list).toContain(`system:serviceaccount:agents:coder`);
    expect(list).toContain(`DELETE apps/deployments ${NS}/web`);
    const shown = mustKubectl('sre-a', ['countersign', 'show', request]);
    expect(shown).toContain('Rule:          production-delete');
  });

  it('cannot be approved by the agent, another agent, or a human without the approve right', () => {
    const own = kubectlAs('coder', ['countersign', 'approve', request, '--reason', 'I am sure']);
    expect(own.code).not.toBe(0);
    expect(own.stderr).toContain('agents may not');
    const other = kubectlAs('ops-bot', ['countersign', 'approve', request, '--reason', 'looks fine']);
    expect(other.code).not.toBe(0);
    expect(other.stderr).toContain('agents may not');
    const dev = kubectlAs('dev-a', ['countersign', 'approve', request, '--reason', 'lgtm']);
    expect(dev.code).not.toBe(0);
    expect(dev.stderr).toContain('dev-a may not approve actions in environment "production"');
  });

  it('cannot be tampered with by the agent', () => {
    expect(kubectlAs('coder', ['delete', 'approvalrequest', request, '-n', 'countersign']).code).not.toBe(0);
    expect(kubectlAs('coder', ['label', 'approvalrequest', request, '-n', 'countersign', 'x=y']).code).not.toBe(0);
    mustKubectl('admin', ['get', 'approvalrequest', request, '-n', 'countersign']);
    // Nor can it add its own key to the allowed signers, or take production's label off the namespace.
    const signers = kubectlAs('coder', ['patch', 'secret', 'countersign-allowed-signers', '-n', 'countersign', '-p', '{"stringData":{"allowed_signers":"* ssh-ed25519 AAAA"}}']);
    // Countersign's namespace never reaches the webhook: the self-defence admission policy refuses it.
    expect(signers.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-protected-namespaces(\.static\.k8s\.io)?'/);
    const relabel = kubectlAs('coder', ['label', 'namespace', NS, 'environment=development', '--overwrite']);
    // Admission policies run before webhooks, so the policy's refusal is the one quoted.
    expect(relabel.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-environment-label(\.static\.k8s\.io)?'/);
    const viaStatus = kubectlAs('coder', ['patch', 'namespace', NS, '--subresource=status', '-p', '{"metadata":{"labels":{"environment":"development"}}}']);
    expect(viaStatus.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-environment-label(\.static\.k8s\.io)?'/);
    expect(mustKubectl('admin', ['get', 'namespace', NS, '-o', 'jsonpath={.metadata.labels.environment}'])).toBe('production');
  });

  it('goes through once after an SRE approves, and the approval is used up', () => {
    const approved = mustKubectl('sre-a', ['countersign', 'approve', request, '--reason', 'web is being replaced by web-v2']);
    expect(approved).toContain(`${request} approved by sre-a`);
    const retry = kubectlAs('coder', ['delete', 'deployment', 'web', '-n', NS]);
    expect(retry.code).toBe(0);
    expect(retry.stderr).toContain('allowed with approval');
    expect(kubectlAs('admin', ['get', 'deployment', 'web', '-n', NS]).code).not.toBe(0);
    const used = JSON.parse(mustKubectl('admin', ['get', 'approvals', '-n', 'countersign', '-o', 'json'])) as { items: { spec: { requestName: string }; status?: { phase?: string } }[] };
    expect(used.items.filter((a) => a.spec.requestName === request).map((a) => a.status?.phase)).toEqual(['Used']);
    const logged = webhookDecisions().filter((d) => d.name === 'web' && d.namespace === NS && d.decision === 'allowed');
    expect(logged.length).toBe(1);
    // The story is in Kubernetes Events too, on the request.
    const events = mustKubectl('admin', ['get', 'events', '-n', 'countersign', '--field-selector', `involvedObject.name=${request}`, '-o', 'jsonpath={.items[*].reason}']);
    expect(events.split(' ').sort()).toEqual(['ApprovalRequested', 'ApprovalUsed', 'Approved']);
  });

  it('does not cover the object once it is recreated (new uid)', () => {
    mustKubectl('admin', ['apply', '-f', '-'], deployment('web'));
    const again = kubectlAs('coder', ['delete', 'deployment', 'web', '-n', NS]);
    expect(again.code).not.toBe(0);
    expect(requestNameIn(again.stderr)).not.toBe(request);
  });

  it('cannot be approved twice by the same person, nor used for another object', () => {
    const api = kubectlAs('coder', ['delete', 'deployment', 'api', '-n', NS]);
    const apiRequest = requestNameIn(api.stderr);
    mustKubectl('sre-a', ['countersign', 'approve', apiRequest, '--reason', 'api retired']);
    const twice = kubectlAs('sre-a', ['countersign', 'approve', apiRequest, '--reason', 'again']);
    expect(twice.code).not.toBe(0);
    // The approval for api does not let the agent delete worker.
    expect(kubectlAs('coder', ['delete', 'deployment', 'worker', '-n', NS]).code).not.toBe(0);
    expect(mustKubectl('admin', ['get', 'deployment', 'worker', '-n', NS, '-o', 'name'])).toContain('worker');
  });
});

describe('an approved CREATE', () => {
  it('covers the retry: the apiserver\'s fresh uid and timestamps are not part of what was approved', () => {
    const args = ['create', 'rolebinding', 'coder-view', '--clusterrole=view', '--serviceaccount=agents:coder', '-n', NS];
    const first = kubectlAs('coder', args);
    const request = requestNameIn(first.stderr);
    expect(first.stderr).toContain('rule rbac-binding');
    // The human sees what would be created, as the guard computed it.
    const shown = mustKubectl('sre-a', ['countersign', 'show', request]);
    expect(shown).toContain('roleRef.name: "view"');
    expect(shown).toContain('subjects: [{"kind":"ServiceAccount","name":"coder","namespace":"agents"}]');
    mustKubectl('sre-a', ['countersign', 'approve', request, '--reason', 'read-only access for the agent']);
    const retry = kubectlAs('coder', args);
    expect(retry.code).toBe(0);
    mustKubectl('admin', ['get', 'rolebinding', 'coder-view', '-n', NS]);
  });
});

describe('a rejection', () => {
  it('stands: the agent is told who rejected and why', () => {
    const run = kubectlAs('ops-bot', ['scale', 'deployment', 'worker', '-n', NS, '--replicas=0']);
    const request = requestNameIn(run.stderr);
    expect(mustKubectl('sre-b', ['countersign', 'reject', request, '--reason', 'worker drains the queue tonight'])).toContain('rejected by sre-b');
    const retry = kubectlAs('ops-bot', ['scale', 'deployment', 'worker', '-n', NS, '--replicas=0']);
    expect(retry.code).not.toBe(0);
    expect(retry.stderr).toContain('was rejected by sre-b: worker drains the queue tonight');
    expect(kubectlAs('sre-a', ['countersign', 'approve', request, '--reason', 'overrule']).code).not.toBe(0);
  });
});

describe('a signed approval (deleting a namespace)', () => {
  let request = '';

  beforeAll(() => {
    request = requestNameIn(kubectlAs('coder', ['delete', 'namespace', NS, '--wait=false']).stderr);
  });

  it('is refused without a signature, with an unknown key, or with someone else\'s key', () => {
    const unsigned = kubectlAs('sre-a', ['countersign', 'approve', request, '--reason', 'decommission']);
    expect(unsigned.stderr).toContain('requires an SSH signature');
    const unknown = kubectlAs('sre-a', ['countersign', 'approve', request, '--reason', 'decommission', '--sign-key', stranger]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('spec.signature:');
    const borrowed = kubectlAs('sre-a', ['countersign', 'approve', request, '--reason', 'decommission', '--sign-key', sreB]);
    expect(borrowed.code).not.toBe(0);
    expect(borrowed.stderr).toContain('spec.signature:');
  });

  it('needs two people: one signed approval is not enough, the same person twice is refused', () => {
    mustKubectl('sre-a', ['countersign', 'approve', request, '--reason', 'decommission appr-prod', '--sign-key', sreA]);
    const half = kubectlAs('coder', ['delete', 'namespace', NS, '--wait=false']);
    expect(half.code).not.toBe(0);
    expect(half.stderr).toContain('is pending (1 of 2 approvals, SSH-signed)');
    const twice = kubectlAs('sre-a', ['countersign', 'approve', request, '--reason', 'really', '--sign-key', sreA]);
    expect(twice.code).not.toBe(0);
  });

  it('with a second person\'s own signed approval lets the agent delete the namespace, and the controllers empty it', async () => {
    mustKubectl('sre-b', ['countersign', 'approve', request, '--reason', 'agreed: appr-prod is retired', '--sign-key', sreB]);
    const retry = kubectlAs('coder', ['delete', 'namespace', NS, '--wait=false']);
    expect(retry.code).toBe(0);
    expect(retry.stderr).toMatch(/allowed with approval \S+,\S+ by sre-a,sre-b/);
    for (let i = 0; i < 90 && kubectlAs('admin', ['get', 'namespace', NS]).code === 0; i += 1) await new Promise((done) => setTimeout(done, 1000));
    expect(kubectlAs('admin', ['get', 'namespace', NS]).code).not.toBe(0);
  });
});

describe('two webhook replicas', () => {
  const RACE = 'race-prod';
  let replica: Replica | undefined;

  beforeAll(async () => {
    mustKubectl('admin', ['create', 'namespace', RACE]);
    mustKubectl('admin', ['label', 'namespace', RACE, 'environment=production']);
    mustKubectl('admin', ['create', 'configmap', 'race', '-n', RACE, '--from-literal=a=b']);
    replica = await startReplica(E2E_DIR);
  });
  afterAll(async () => { if (replica !== undefined) await stopProcess(replica.pid); });

  it('never use one approval twice when both get the retry at the same moment', async () => {
    const first = kubectlAs('coder', ['delete', 'configmap', 'race', '-n', RACE]);
    const request = requestNameIn(first.stderr);
    mustKubectl('sre-a', ['countersign', 'approve', request, '--reason', 'race test']);
    // The AdmissionReview the real apiserver sent for that attempt: the retry carries the same object.
    const attempt = webhookDecisions().filter((d) => d.namespace === RACE && d.name === 'race' && d.operation === 'DELETE').at(-1);
    if (attempt === undefined) throw new Error('the first attempt was not logged');
    const body = capturedReview(attempt.uid);
    const answers = await Promise.all([countersignPort(E2E_DIR), replica!.port].map((port) => postReview(port, body)));
    const allowed = answers.filter((a) => a.response.allowed);
    expect(allowed).toHaveLength(1);
    const refused = answers.find((a) => !a.response.allowed);
    expect(refused?.response.status?.message).toMatch(/used by a concurrent request|pending \(0 of 1/);
    const approvals = JSON.parse(mustKubectl('admin', ['get', 'approvals', '-n', 'countersign', '-o', 'json'])) as { items: { spec: { requestName: string }; status?: { phase?: string } }[] };
    expect(approvals.items.filter((a) => a.spec.requestName === request).map((a) => a.status?.phase)).toEqual(['Used']);
  });
});

describe('the audit log', () => {
  interface Audit { line: number; chain: string; seq: number; hash: string; event: string; request?: string; action?: string; creator?: string }
  const work = mkdtempSync(join(tmpdir(), 'countersign-e2e-audit-'));
  afterAll(() => { rmSync(work, { recursive: true, force: true }); });

  /** Every Countersign process's log of this run (the first one, restarts appended, and each replica's). */
  function logs(but?: string): string {
    const files = readdirSync(E2E_DIR).filter((f) => /^countersign.*\.log$/.test(f) && f !== but).sort();
    return files.map((f) => readFileSync(join(E2E_DIR, f), 'utf8')).join('\n');
  }

  function audits(text: string): Audit[] {
    return text.split('\n').flatMap((line, i) => {
      if (!line.includes('"msg":"audit"')) return [];
      return [{ ...(JSON.parse(line) as { audit: Omit<Audit, 'line'> }).audit, line: i + 1 }];
    });
  }

  function verify(...args: string[]): { code: number; out: string } {
    const run = spawnSync(process.execPath, [CLI, 'audit-verify', ...args], { encoding: 'utf8', timeout: 60_000 });
    return { code: run.status ?? -1, out: `${run.stdout}${run.stderr}` };
  }

  function file(name: string, text: string): string {
    writeFileSync(join(work, name), text);
    return join(work, name);
  }

  it('holds each approval step of the flow above, hash-chained per process, and audit-verify finds it intact and anchored by the Events', () => {
    const text = logs();
    const records = audits(text);
    const events = mustKubectl('admin', ['get', 'events', '-n', 'countersign', '-o', 'json']);
    const verdict = verify(file('all.log', text), '--anchors', file('events.json', events));
    expect(verdict.code).toBe(0);
    const chains = records.filter((r) => r.event === 'chain-start').length;
    expect(verdict.out).toContain(`audit log intact: ${records.length} audit records in ${chains} chain(s)`);
    // The first attempt at deleting web: recorded; refused to dev-a; approved; used once. (The agents' own attempts
    // never reach Countersign: the self-defence admission policy refuses agents in its namespace first.)
    const web = records.find((r) => r.event === 'request-recorded' && r.action === `DELETE apps/v1/deployments ${NS}/web`);
    const steps = records.filter((r) => r.request === web?.request);
    expect(steps.map((r) => r.event)).toEqual(['request-recorded', 'approval-refused', 'approval-admitted', 'approval-used']);
    expect(steps.filter((r) => r.event === 'approval-refused').map((r) => r.creator)).toEqual(['dev-a']);
    // The signed namespace deletion: three refused approvals (unsigned, unknown key, a colleague's key), two admitted.
    const namespace = records.find((r) => r.event === 'request-recorded' && r.action === `DELETE v1/namespaces ${NS}/${NS}`);
    expect(records.filter((r) => r.request === namespace?.request).map((r) => r.event)).toEqual([
      'request-recorded', 'approval-refused', 'approval-refused', 'approval-refused', 'approval-admitted', 'approval-admitted', 'approval-used',
    ]);
    // Its Events carry the very lines' places and hashes.
    const list = JSON.parse(events) as { items: { involvedObject: { name: string }; reason: string; metadata: { annotations?: Record<string, string> } }[] };
    const anchored = list.items.filter((e) => e.involvedObject.name === web?.request).map((e) => [e.reason, e.metadata.annotations?.['countersign.dev/audit-hash']]);
    const byEvent = (event: string): string | undefined => steps.find((r) => r.event === event)?.hash;
    expect(anchored.sort()).toEqual([['ApprovalRequested', byEvent('request-recorded')], ['ApprovalUsed', byEvent('approval-used')], ['Approved', byEvent('approval-admitted')]].sort());
    // Two replicas raced for one approval: whichever won, one chain says it was used, once.
    const race = records.find((r) => r.event === 'request-recorded' && r.action === 'DELETE v1/configmaps race-prod/race');
    expect(records.filter((r) => r.request === race?.request && r.event === 'approval-used')).toHaveLength(1);
  });

  it('names the line where a deleted audit line is missed, and with the Events finds a cut-off tail', () => {
    const main = readFileSync(join(E2E_DIR, 'countersign.log'), 'utf8');
    const records = audits(main);
    const web = records.find((r) => r.event === 'request-recorded' && r.action === `DELETE apps/v1/deployments ${NS}/web`);
    const admitted = records.find((r) => r.request === web?.request && r.event === 'approval-admitted')!;
    const lines = main.split('\n');
    const copy = lines.filter((_, i) => i + 1 !== admitted.line);
    const next = audits(copy.join('\n')).find((r) => r.chain === admitted.chain && r.seq === admitted.seq + 1)!;
    const deleted = verify(file('deleted.log', copy.join('\n')));
    expect(deleted.code).toBe(1);
    expect(deleted.out).toMatch(new RegExp(`^audit log BROKEN at line ${next.line} \\(missing\\): .* seq ${admitted.seq} is missing`));
    // That process's chain cut off from the approval's use on: the log alone cannot tell; the Event on the use can.
    const used = records.find((r) => r.request === web?.request && r.event === 'approval-used')!;
    const tail = new Set(records.filter((r) => r.chain === used.chain && r.seq >= used.seq).map((r) => r.line));
    const cut = file('cut.log', [...lines.filter((_, i) => !tail.has(i + 1)), logs('countersign.log')].join('\n'));
    expect(verify(cut).code).toBe(0);
    const events = file('events.json', mustKubectl('admin', ['get', 'events', '-n', 'countersign', '-o', 'json']));
    const truncated = verify(cut, '--anchors', events);
    expect(truncated.code).toBe(1);
    expect(truncated.out).toContain('(truncated)');
  });
});
