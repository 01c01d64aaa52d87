// The Helm chart with a real helm (built from its Go module) against the real control plane: lint, values that are
// refused, the webhook configuration and admission policies it renders being exactly what the CLI generates, a
// server-side dry run, install, upgrade and uninstall, the pre-delete hook's command, and manifests/ in sync.
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { CLI, ROOT, kubeconfigPath, requireHelm } from '../harness/control-plane.ts';
import { E2E_DIR, eventually, kubectlAs, mustKubectl, type Run } from './kube.ts';

const CHART = join(ROOT, 'charts', 'countersign');
const RELEASE = 'cs-helm';
const work = mkdtempSync(join(tmpdir(), 'countersign-chart-'));

interface Doc {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  webhooks?: { clientConfig: { caBundle?: string } }[];
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

function run(command: string, args: string[], input?: string): Run {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 120_000, ...(input === undefined ? {} : { input }) });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function helm(args: string[]): Run {
  return run(requireHelm(), [...args, '--kubeconfig', kubeconfigPath(E2E_DIR, 'admin')]);
}

function mustHelm(args: string[]): string {
  const result = helm(args);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function render(release: string, extra: string[] = []): Doc[] {
  const text = mustHelm(['template', release, CHART, '--namespace', release, '--kube-version', '1.37.1', ...extra]);
  return parseAllDocuments(text).map((doc) => doc.toJS() as Doc | null).filter((doc): doc is Doc => doc !== null);
}

function one(docs: Doc[], kind: string, name?: string): Doc {
  const found = docs.find((doc) => doc.kind === kind && (name === undefined || doc.metadata.name === name));
  if (found === undefined) throw new Error(`no ${kind} ${name ?? ''} rendered`);
  return found;
}

function cli(args: string[]): string {
  const result = run(process.execPath, [CLI, ...args]);
  if (result.code !== 0) throw new Error(`countersign ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function withoutCaBundle(webhooks: Doc['webhooks']): unknown {
  return (webhooks ?? []).map((webhook) => ({ ...webhook, clientConfig: { ...webhook.clientConfig, caBundle: undefined } }));
}

afterAll(() => {
  helm(['uninstall', RELEASE, '--namespace', RELEASE, '--no-hooks']);
  kubectlAs('admin', ['delete', 'namespace', RELEASE, 'cs-dry', '--ignore-not-found', '--wait=false']);
});

describe('the Helm chart', () => {
  it('lints, and refuses values that would break it, naming the value', () => {
    mustHelm(['lint', CHART, '--kube-version', '1.37.1']);
    expect(helm(['template', 'x', CHART, '--set', 'replicaCount=1']).stderr).toMatch(/replicaCount.*(minimum|greater than or equal)/i);
    expect(helm(['template', 'x', CHART, '--set', 'replicas=3']).stderr).toMatch(/additional propert.*replicas/i);
    expect(helm(['template', 'x', CHART, '--set', 'webhook.timeoutSeconds=60']).stderr).toMatch(/timeoutSeconds/);
    expect(helm(['template', 'x', CHART, '--set', 'podDisruptionBudget.minAvailable=2']).stderr).toMatch(/minAvailable \(2\) must be less than replicaCount \(2\)/);
  });

  it.each([
    ['the default values', []],
    ['other agents (globs, users, groups)', ['--set-json', 'agents={"serviceAccounts":["ml-*/bot-?","team.a/*"],"usernames":["oidc:claude@agents.example.com","bot.*","CORP\\\\ai-*"],"groups":["ml-agents","team:*:agents"]}']],
  ])('renders, for %s, the webhook configuration and admission policies the CLI generates from the same config', (_, extra) => {
    const docs = render('countersign', [...extra, '--set', 'tls.mode=helm']);
    const configText = one(docs, 'ConfigMap').data?.['config.yaml'] ?? '';
    const configFile = join(work, `config-${String(extra.length)}.yaml`);
    writeFileSync(configFile, configText);
    // The configuration the pods would run is valid...
    expect(cli(['check', '--config', configFile])).toContain('ok');
    // ...and the admission objects are exactly what Countersign derives from it.
    const fromCli = parseAllDocuments(cli(['webhook-config', '--service', 'countersign/countersign', '--config', configFile]))[0]?.toJS() as Doc;
    const rendered = one(docs, 'ValidatingWebhookConfiguration');
    expect(withoutCaBundle(rendered.webhooks)).toEqual(withoutCaBundle(fromCli.webhooks));
    expect(rendered.webhooks?.[0]?.clientConfig.caBundle).toMatch(/^[A-Za-z0-9+/=]{100,}$/);
    const policies = (parseAllDocuments(cli(['self-defence-policy', '--config', configFile]))[0]?.toJS() as { items: Doc[] }).items;
    // The same set of admission policies and bindings, and not none.
    const admission = (list: Doc[]): string[] => list.filter((d) => d.kind.startsWith('ValidatingAdmissionPolicy')).map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(admission(policies).length).toBeGreaterThan(0);
    expect(admission(docs)).toEqual(admission(policies));
    for (const policy of policies) expect(one(docs, policy.kind, policy.metadata.name).spec).toEqual(policy.spec);
  });

  it('applies server-side (dry run) to the real apiserver', () => {
    mustKubectl('admin', ['create', 'namespace', 'cs-dry']);
    const text = mustHelm(['template', 'cs-dry', CHART, '--namespace', 'cs-dry', '--kube-version', '1.37.1', '--include-crds']);
    const applied = kubectlAs('admin', ['apply', '--dry-run=server', '-f', '-'], text);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toMatch(/validatingwebhookconfiguration.admissionregistration.k8s.io\/cs-dry created \(server dry run\)/);
    expect(applied.stdout).toMatch(/deployment.apps\/cs-dry created \(server dry run\)/);
  });

  it('installs, upgrades keeping its certificate, and uninstalls leaving no webhook configuration behind', () => {
    mustHelm(['install', RELEASE, CHART, '--namespace', RELEASE, '--create-namespace', '--set', 'tls.mode=helm']);
    const webhook = JSON.parse(mustKubectl('admin', ['get', 'validatingwebhookconfiguration', RELEASE, '-o', 'json'])) as Doc;
    // Both webhooks (agents and approvals), each with the release's CA.
    expect(webhook.webhooks).toHaveLength(2);
    expect(webhook.webhooks?.map((w) => w.clientConfig.caBundle?.length ?? 0).every((n) => n > 100)).toBe(true);
    expect(mustKubectl('admin', ['get', 'deployment', RELEASE, '-n', RELEASE, '-o', 'jsonpath={.spec.replicas}'])).toBe('2');
    mustKubectl('admin', ['get', 'validatingadmissionpolicy', `${RELEASE}-admission-webhooks`, `${RELEASE}-protected-namespaces`, `${RELEASE}-environment-label`]);
    const secret = mustKubectl('admin', ['get', 'secret', `${RELEASE}-tls`, '-n', RELEASE, '-o', 'jsonpath={.data.tls\\.crt}']);

    mustHelm(['upgrade', RELEASE, CHART, '--namespace', RELEASE, '--reuse-values', '--set', 'replicaCount=3']);
    expect(mustKubectl('admin', ['get', 'deployment', RELEASE, '-n', RELEASE, '-o', 'jsonpath={.spec.replicas}'])).toBe('3');
    expect(mustKubectl('admin', ['get', 'secret', `${RELEASE}-tls`, '-n', RELEASE, '-o', 'jsonpath={.data.tls\\.crt}'])).toBe(secret);

    // No nodes run the pre-delete hook's Job here, so hooks are skipped; the next test runs its command for real.
    mustHelm(['uninstall', RELEASE, '--namespace', RELEASE, '--no-hooks']);
    expect(kubectlAs('admin', ['get', 'validatingwebhookconfiguration', RELEASE]).stderr).toMatch(/NotFound/);
    expect(kubectlAs('admin', ['get', 'validatingadmissionpolicy', `${RELEASE}-admission-webhooks`]).stderr).toMatch(/NotFound/);
    expect(kubectlAs('admin', ['get', 'clusterrole', RELEASE]).stderr).toMatch(/NotFound/);
  });

  it('self-managed TLS (the default): Countersign, as the release\'s ServiceAccount, creates its Secret, fills the caBundle, which upgrades keep; uninstall takes the Secret', async () => {
    const release = 'cs-self';
    // The default mode.
    mustHelm(['install', release, CHART, '--namespace', release, '--create-namespace']);
    try {
      const docs = render(release);
      expect(docs.some((doc) => doc.kind === 'Secret')).toBe(false);
      const container = (one(docs, 'Deployment').spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0];
      const args = container?.args ?? [];
      expect(args).toEqual(expect.arrayContaining(['--tls-secret', `${release}-tls`, '--webhook-configuration', release, '--tls-hosts', `${release}.${release}.svc,${release}.${release},${release}`]));
      // The pod cannot run without nodes: run its command here, under the release's own ServiceAccount and RBAC.
      const config = join(work, 'self-config.yaml');
      writeFileSync(config, one(docs, 'ConfigMap').data?.['config.yaml'] ?? '');
      const token = mustKubectl('admin', ['create', 'token', release, '-n', release, '--duration', '1h']).trim();
      const kubeconfig = join(work, 'self-kubeconfig');
      writeFileSync(kubeconfig, readFileSync(kubeconfigPath(E2E_DIR, 'admin'), 'utf8').replace(/token: "[^"]*"/, `token: "${token}"`));
      const served = args.map((arg, i) => (args[i - 1] === '--config' ? config : arg)).map((arg, i) => (args[i - 1] === '--port' ? '0' : arg));
      const server = spawn(process.execPath, [CLI, ...served, '--address', '127.0.0.1', '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
      let log = '';
      server.stdout.on('data', (chunk: Buffer) => { log += chunk.toString(); });
      server.stderr.on('data', (chunk: Buffer) => { log += chunk.toString(); });
      try {
        await eventually('the caBundle published', 60_000, () => {
          if (server.exitCode !== null) throw new Error(`countersign exited: ${log}`);
          const bundle = kubectlAs('admin', ['get', 'validatingwebhookconfiguration', release, '-o', 'jsonpath={.webhooks[0].clientConfig.caBundle}']).stdout;
          // The pass's log line can land after the patch is visible: wait for both before stopping the server.
          return bundle.length > 100 && log.includes('self-managed TLS: created a new CA and serving certificate') ? bundle : undefined;
        });
      } catch (error: unknown) {
        throw new Error(`${String(error)}\n${log}`, { cause: error });
      } finally {
        server.kill('SIGTERM');
      }
      expect(log).toContain('self-managed TLS: created a new CA and serving certificate');
      const secret = JSON.parse(mustKubectl('admin', ['get', 'secret', `${release}-tls`, '-n', release, '-o', 'json'])) as { data: Record<string, string>; metadata: { ownerReferences?: { kind: string; name: string }[] } };
      expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'ServiceAccount', name: release })]);
      const bundles = (): string[] => (JSON.parse(mustKubectl('admin', ['get', 'validatingwebhookconfiguration', release, '-o', 'json'])) as Doc).webhooks?.map((w) => w.clientConfig.caBundle ?? '') ?? [];
      expect(secret.data['ca.crt']?.length ?? 0).toBeGreaterThan(100);
      expect(bundles()).toEqual([secret.data['ca.crt'], secret.data['ca.crt']]);
      // Helm does not own the caBundle: an upgrade must leave what Countersign put there.
      mustHelm(['upgrade', release, CHART, '--namespace', release, '--reuse-values', '--set', 'replicaCount=3']);
      expect(bundles()).toEqual([secret.data['ca.crt'], secret.data['ca.crt']]);
    } finally {
      mustHelm(['uninstall', release, '--namespace', release, '--no-hooks']);
    }
    // The ServiceAccount went with the release; the garbage collector takes the Secret with it.
    await eventually('the TLS Secret collected', 60_000, () => (kubectlAs('admin', ['get', 'secret', `${release}-tls`, '-n', release]).stderr.includes('NotFound') ? true : undefined));
    kubectlAs('admin', ['delete', 'namespace', release, '--wait=false']);
  }, 150_000);

  it('ships a pre-delete hook whose command removes the webhook configuration from the real apiserver', () => {
    const job = one(render('countersign'), 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-delete');
    expect(JSON.stringify(job.spec)).toContain('"args":["remove-webhook-config","--name","countersign"]');
    mustKubectl('admin', ['create', '-f', '-'], JSON.stringify({ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingWebhookConfiguration', metadata: { name: 'cs-hook-probe' }, webhooks: [] }));
    const kubeconfig = kubeconfigPath(E2E_DIR, 'admin');
    expect(cli(['remove-webhook-config', '--name', 'cs-hook-probe', '--kubeconfig', kubeconfig])).toContain('deleted');
    expect(kubectlAs('admin', ['get', 'validatingwebhookconfiguration', 'cs-hook-probe']).code).not.toBe(0);
    expect(cli(['remove-webhook-config', '--name', 'cs-hook-probe', '--kubeconfig', kubeconfig])).toContain('already gone');
  });

  it('has manifests/ rendered from it, up to date', () => {
    const check = run(process.execPath, [join(ROOT, 'scripts', 'render-manifests.mjs'), '--check']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    const manifest = readFileSync(join(ROOT, 'manifests', 'countersign.yaml'), 'utf8');
    expect(manifest).toContain('kind: ValidatingWebhookConfiguration');
    // Applied as plain objects, the uninstall hook's Job would remove the webhook right after install.
    expect(manifest).not.toContain('helm.sh/hook');
  });
});
