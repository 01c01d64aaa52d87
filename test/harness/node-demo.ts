// The chart's pods answering, on a cluster with a real node: `helm install` with default values, then a kubectl
// session inside the cluster's network namespace (the pods, an agent refused through them, a human allowed, the
// pods' decision lines), then uninstall and teardown.
//
//   npm run demo:node       (root; builds the node's runtime and images on first use: npm run node:build)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KUBECTL, ROOT, kubeconfigPath, requireHelm, waitFor } from './control-plane.ts';
import { nodeDown, nodeUp } from './node-cluster.ts';

const DIR = join(ROOT, '.run', 'node-demo');

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

function show(identity: string, command: string, args: string[], note: string): { code: number; out: string } {
  const binary = command === 'helm' ? requireHelm() : KUBECTL;
  say(`\n$ ${command} ${args.join(' ')}      # as ${identity}: ${note}`);
  const result = spawnSync(binary, ['--kubeconfig', kubeconfigPath(DIR, identity), ...args], { encoding: 'utf8' });
  const out = `${result.stdout}${result.stderr}`.trim();
  for (const line of out.split('\n')) say(`  ${line}`);
  return { code: result.status ?? -1, out };
}

function quiet(identity: string, args: string[]): string {
  return spawnSync(KUBECTL, ['--kubeconfig', kubeconfigPath(DIR, identity), ...args], { encoding: 'utf8' }).stdout;
}

async function main(): Promise<void> {
  say('== A node (kubelet, containerd, runc, bridge CNI, kube-proxy) and the control plane, in a network namespace of their own');
  try {
    await nodeUp(DIR);
    show('admin', 'kubectl', ['get', 'nodes', '-o', 'wide'], 'the node');
    show('admin', 'helm', ['install', 'cs', join(ROOT, 'charts', 'countersign'), '--namespace', 'countersign', '--wait', '--timeout', '300s'], 'default values; the image was built from the Dockerfile');
    show('admin', 'kubectl', ['get', 'pods', '-n', 'countersign', '-o', 'wide'], 'two replicas, Running and Ready');
    for (const args of [['create', 'namespace', 'shop-prod'], ['label', 'namespace', 'shop-prod', 'environment=production'], ['create', 'configmap', 'settings', '-n', 'shop-prod', '--from-literal=mode=live']]) quiet('admin', args);
    const agent = show('coder', 'kubectl', ['delete', 'configmap', 'settings', '-n', 'shop-prod'], 'the agent deletes in production');
    say(agent.code === 0 ? '  -> ALLOWED (this is a bug)' : '  -> REFUSED, by the pods');
    show('sre-a', 'kubectl', ['delete', 'configmap', 'settings', '-n', 'shop-prod'], 'a human does the same');
    await waitFor('the decision in the pods\' logs', 30_000, () => (quiet('admin', ['logs', '-n', 'countersign', '-l', 'app.kubernetes.io/instance=cs', '--tail=-1']).includes('"name":"settings"') ? true : undefined));
    say('\n$ kubectl logs -n countersign -l app.kubernetes.io/instance=cs --prefix | grep \'"msg":"decision"\'      # the pods\' own decision lines');
    const logs = quiet('admin', ['logs', '-n', 'countersign', '-l', 'app.kubernetes.io/instance=cs', '--tail=-1', '--prefix']);
    for (const line of logs.split('\n').filter((entry) => entry.includes('"msg":"decision"'))) say(`  ${line.slice(0, 400)}`);
    show('admin', 'helm', ['uninstall', 'cs', '--namespace', 'countersign', '--wait'], 'the pre-delete hook removes the webhook first');
  } finally {
    await nodeDown(DIR);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo:node: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
