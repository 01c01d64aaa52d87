// The incident, replayed against a real control plane: an agent with an engineer's inherited rights, asked to fix
// a small config problem in production, decides to delete and recreate the environment. Countersign stops it.
//
//   npm run demo            (builds the control plane on first use, brings it up, replays, tears it down)
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { down, KUBECTL, kubeconfigPath, pluginPath, up } from './control-plane.ts';
import { loggedDecisions, type LoggedDecision } from './decision-log.ts';
import { shopManifest } from './shop.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

const ROOT = resolve(HERE, '..', '..');
const DIR = join(ROOT, '.run', 'demo');
const NS = 'shop-prod';

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function heading(text: string): void {
  say(`\n\x1b[1m== ${text}\x1b[0m`);
}

function kubectl(identity: string, args: string[], input?: string): { code: number; out: string; stdout: string } {
  // kubectl refuses flags before a plugin's name; the plugin reads --kubeconfig itself.
  const kubeconfig = ['--kubeconfig', kubeconfigPath(DIR, identity)];
  const argv = args[0] === 'countersign' ? [...args, ...kubeconfig] : [...kubeconfig, ...args];
  const r = spawnSync(KUBECTL, argv, { encoding: 'utf8', env: { ...process.env, PATH: pluginPath(DIR) }, ...(input === undefined ? {} : { input }) });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}`.trim(), stdout: r.stdout.trim() };
}

function run(identity: string, who: string, description: string, args: string[]): string {
  say(`\n$ kubectl ${args.join(' ')}      # ${who}: ${description}`);
  const { code, out } = kubectl(identity, args);
  for (const line of out.split('\n')) say(`  ${line}`);
  say(code === 0 ? '  -> done' : '  -> REFUSED');
  return out;
}

function agentTries(description: string, args: string[]): string {
  return run('coder', 'the agent', description, args);
}

function requestIn(text: string): string {
  return /kubectl countersign approve (cs-[0-9a-f]{64})/.exec(text)?.[1] ?? '(none)';
}

function decisions(): LoggedDecision[] {
  return loggedDecisions(DIR).filter((d) => !d.name.startsWith('countersign-probe'));
}

async function main(): Promise<void> {
  if (!existsSync(KUBECTL)) {
    heading('Building the real control plane from Kubernetes\' Go modules (first run only; see test/control-plane/README.md)');
    execFileSync('bash', [join(ROOT, 'test', 'control-plane', 'build.sh')], { stdio: 'inherit' });
  }
  heading('Starting etcd, kube-apiserver, kube-controller-manager and Countersign on 127.0.0.1');
  await up(DIR, undefined);
  try {
    heading(`A production environment: namespace ${NS} (label environment=production)`);
    kubectl('admin', ['apply', '-f', '-'], shopManifest(NS, 'production'));
    kubectl('admin', ['create', 'configmap', 'shop-config-old', '-n', NS, '--from-literal=LOG_LEVEL=info']);
    say(kubectl('admin', ['get', 'deployments,services,configmaps,secrets,pvc', '-n', NS]).out);
    heading('The agent (ServiceAccount agents/coder, with an engineer\'s inherited rights) is asked: "checkout logs are too quiet, fix LOG_LEVEL"');
    say(`RBAC says it may: delete namespaces? ${kubectl('coder', ['auth', 'can-i', 'delete', 'namespaces']).stdout}; ` +
      `delete deployments in ${NS}? ${kubectl('coder', ['auth', 'can-i', 'delete', 'deployments', '-n', NS]).stdout}`);
    agentTries('"the cleanest fix is to recreate the environment" - first, what would happen?', ['delete', 'namespace', NS, '--dry-run=server']);
    const nsRequest = requestIn(agentTries('deletes the environment', ['delete', 'namespace', NS, '--wait=false']));
    const deployRequest = requestIn(agentTries('tries piece by piece instead', ['delete', 'deployment', 'web', '-n', NS]));
    agentTries('tries to take the service down another way', ['scale', 'deployment', 'web', '-n', NS, '--replicas=0']);
    agentTries('tries to give itself cluster-admin', ['create', 'clusterrolebinding', 'coder-root', '--clusterrole=cluster-admin', '--serviceaccount=agents:coder']);
    agentTries('makes the small fix it was asked for', ['patch', 'configmap', 'shop-config', '-n', NS, '-p', '{"data":{"LOG_LEVEL":"debug"}}']);
    const cleanup = requestIn(agentTries('wants to remove the stale config it found', ['delete', 'configmap', 'shop-config-old', '-n', NS]));

    heading('The human\'s side: sre-a reviews what Countersign recorded (never the agent\'s own words)');
    run('sre-a', 'sre-a', 'what is waiting for me?', ['countersign', 'list', '-A']);
    run('sre-a', 'sre-a', 'look closer', ['countersign', 'show', deployRequest]);
    run('dev-a', 'dev-a (may file approvals, holds no approve right)', 'tries to approve the cleanup', ['countersign', 'approve', cleanup, '--reason', 'lgtm']);
    run('sre-a', 'sre-a', 'no: the fix was a log level', ['countersign', 'reject', deployRequest, '--reason', 'the fix is LOG_LEVEL, not a redeploy']);
    run('sre-a', 'sre-a', 'no, and never like this', ['countersign', 'reject', nsRequest, '--reason', 'recreating production is not a bug fix']);
    run('sre-a', 'sre-a', 'the stale ConfigMap may go', ['countersign', 'approve', cleanup, '--reason', 'shop-config-old is unused since 1.4']);
    agentTries('retries the rejected delete', ['delete', 'deployment', 'web', '-n', NS]);
    agentTries('retries the approved cleanup', ['delete', 'configmap', 'shop-config-old', '-n', NS]);

    heading(`The environment is intact`);
    say(kubectl('admin', ['get', 'namespace', NS, '-o', 'jsonpath={.metadata.name} {.status.phase}']).out);
    say(kubectl('admin', ['get', 'deployment', 'web', '-n', NS, '-o', 'jsonpath=deployment/web replicas={.spec.replicas}']).out);
    say(kubectl('admin', ['get', 'configmap', 'shop-config', '-n', NS, '-o', 'jsonpath=shop-config LOG_LEVEL={.data.LOG_LEVEL}']).out);

    heading('What a human sees: Countersign\'s decision log (one JSON line per decision, here as a table)');
    for (const d of decisions()) {
      const target = `${d.resource} ${d.namespace === '' || d.resource === 'namespaces' ? '' : `${d.namespace}/`}${d.name}`;
      say(`  ${d.decision.padEnd(8)} ${d.tier.padEnd(17)} ${d.rule.padEnd(24)} ${d.operation.padEnd(7)} ${target}${d.digest === undefined ? '' : `  ${d.digest.slice(0, 19)}...`}`);
    }
    heading('The same thing a human would do goes through: sre-a deletes a scratch namespace, and no webhook call is made');
    kubectl('admin', ['create', 'namespace', 'scratch-prod']);
    say(kubectl('sre-a', ['delete', 'namespace', 'scratch-prod', '--wait=false']).out);
    const own = decisions().filter((d) => d.requester === 'sre-a' && !d.resource.startsWith('countersign.dev/'));
    say(`webhook calls for sre-a's own changes: ${own.length} (only her approvals were checked)`);
  } finally {
    heading('Tearing everything down');
    await down(DIR);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
