// The chart as users run it: `helm install` with default values on a cluster with a real node (kubelet, containerd,
// runc, bridge CNI, kube-proxy), the image built from the Dockerfile, two pods serving the webhook through its
// Service. Then what operators do to it: a pod evicted and a rolling upgrade under an agent's traffic, uninstall with
// its hook, and manifests/ on the same cluster.
import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { setTimeout as sleep } from 'node:timers/promises';
import { KUBECTL, ROOT, kubeconfigPath, requireHelm, tokenOf, waitFor as eventually } from '../harness/control-plane.ts';
import { NODE_BIN, chartDefaultImage, type NodeInfo } from '../harness/node-cluster.ts';
import { NODE_DIR } from './dir.ts';
import { PENDING_APPROVAL, REFUSED_BY_COUNTERSIGN, agentTraffic, clusterOf, type Tally } from './traffic.ts';

const CHART = join(ROOT, 'charts', 'countersign');
const RELEASE = 'cs';
const NAMESPACE = 'countersign';
const DEFAULT_IMAGE = chartDefaultImage();
const IMAGE = DEFAULT_IMAGE.slice(0, DEFAULT_IMAGE.lastIndexOf(':'));
const SELECTOR = `app.kubernetes.io/name=countersign,app.kubernetes.io/instance=${RELEASE}`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): Run {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 400_000, ...(input === undefined ? {} : { input }) });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

function kubectl(identity: string, args: string[], input?: string): Run {
  return run(KUBECTL, ['--kubeconfig', kubeconfigPath(NODE_DIR, identity), ...args], input);
}

function must(result: Run, what: string): string {
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

function admin(args: string[], input?: string): string {
  return must(kubectl('admin', args, input), `kubectl ${args.join(' ')}`);
}

function helm(args: string[]): string {
  return must(run(requireHelm(), [...args, '--kubeconfig', kubeconfigPath(NODE_DIR, 'admin')]), `helm ${args.join(' ')}`);
}

function ctr(args: string[]): string {
  const node = JSON.parse(readFileSync(join(NODE_DIR, 'node.json'), 'utf8')) as NodeInfo;
  return execFileSync(join(NODE_BIN, 'ctr'), ['--address', node.socket, '--namespace', 'k8s.io', ...args], { encoding: 'utf8' });
}

interface Pod {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { phase: string; containerStatuses?: { ready: boolean; imageID: string }[] };
}

function pods(): Pod[] {
  return (JSON.parse(admin(['get', 'pods', '-n', NAMESPACE, '-l', SELECTOR, '-o', 'json'])) as { items: Pod[] }).items;
}

function readyPods(image?: string): Pod[] {
  return pods().filter((pod) => pod.metadata.deletionTimestamp === undefined && pod.status.phase === 'Running'
    && (pod.status.containerStatuses ?? []).every((status) => status.ready)
    && (image === undefined || pod.spec.containers[0]?.image === image));
}

const target = { devNamespace: 'shop-dev', prodNamespace: 'shop-prod', victim: 'victim' };

function figures(what: string, tally: Tally): string {
  return `${what}: sent ${tally.sent}, allowed ${tally.allowed}, refused ${tally.refused}, wrongly allowed ${tally.wronglyAllowed}, failed ${tally.failed}`;
}

function expectClean(tally: Tally): void {
  expect(tally.failures).toEqual([]);
  // What the refused deletes aimed at is still there.
  expect(admin(['get', 'configmap', target.victim, '-n', target.prodNamespace, '-o', 'jsonpath={.data.keep}'])).toBe('1');
  expect(tally.wronglyAllowed).toBe(0);
  expect(tally.failed).toBe(0);
  expect(tally.refused).toBeGreaterThan(10);
  expect(tally.allowed).toBeGreaterThan(10);
}

/** Kinds whose objects come and go with any activity, not with the release. */
const CHURN = /^(events(\.events\.k8s\.io)?|leases\.coordination\.k8s\.io|endpointslices\.discovery\.k8s\.io|endpoints)$/;

/** Every object of every listable kind, namespaced ones from NAMESPACE: `kind/name` lines, churn left out. */
function inventory(): Set<string> {
  const kinds = (scope: 'true' | 'false'): string[] => admin(['api-resources', '--verbs=list', `--namespaced=${scope}`, '-o', 'name']).split('\n').filter((kind) => kind !== '' && !CHURN.test(kind));
  const names = admin(['get', kinds('true').join(','), '-n', NAMESPACE, '-o', 'name', '--ignore-not-found'])
    + admin(['get', kinds('false').join(','), '-o', 'name', '--ignore-not-found']);
  return new Set(names.split('\n').filter((name) => name !== ''));
}

let beforeInstall = new Set<string>();

/** A CA and a serving certificate for `host` (what cert-manager's self-signed Issuer and Certificate would make). */
function mintServingCert(host: string): { dir: string; ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'countersign-manifests-'));
  const ca = join(dir, 'ca.crt');
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', join(dir, 'ca.key'), '-out', ca, '-days', '2', '-subj', '/CN=countersign-manifests-ca'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', join(dir, 'tls.csr'), '-subj', `/CN=${host}`], { stdio: 'ignore' });
  writeFileSync(join(dir, 'tls.ext'), `subjectAltName=DNS:${host}\nextendedKeyUsage=serverAuth\n`);
  execFileSync('openssl', ['x509', '-req', '-in', join(dir, 'tls.csr'), '-CA', ca, '-CAkey', join(dir, 'ca.key'), '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', join(dir, 'tls.ext')], { stdio: 'ignore' });
  return { dir, ca, cert, key };
}

/** Evicts a pod through the Eviction API (what `kubectl drain` does); returns the HTTP status. */
function evict(pod: string): string {
  const eviction = JSON.stringify({ apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod, namespace: NAMESPACE } });
  const result = kubectl('admin', ['create', '--raw', `/api/v1/namespaces/${NAMESPACE}/pods/${pod}/eviction`, '-f', '-'], eviction);
  return result.code === 0 ? 'evicted' : result.stderr;
}

describe('the chart on a real node', () => {
  it('installs with default values: two pods Running and Ready, uid 65532, read-only root filesystem', async () => {
    // The image built from the Dockerfile, imported under the chart's default name as well (node-cluster.ts).
    expect(ctr(['images', 'ls', '-q'])).toContain(DEFAULT_IMAGE);
    beforeInstall = inventory();
    expect(beforeInstall.size).toBeGreaterThan(100);
    helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--wait', '--timeout', '300s']);
    const ready = await eventually('two ready pods', 120_000, () => (readyPods().length === 2 ? readyPods() : undefined));
    process.stdout.write(`${admin(['get', 'pods', '-n', NAMESPACE, '-o', 'wide'])}\n`);
    for (const pod of ready) {
      const probe = "try { require('fs').writeFileSync('/probe', 'x'); console.log(process.getuid(), 'writable') } catch (e) { console.log(process.getuid(), e.code) }";
      expect(admin(['exec', '-n', NAMESPACE, pod.metadata.name, '--', 'node', '-e', probe]).trim()).toBe('65532 EROFS');
    }
  }, 420_000);

  it('minted its serving certificate for the Service\'s names and published its CA to the webhook configuration', () => {
    const secret = JSON.parse(admin(['get', 'secret', `${RELEASE}-tls`, '-n', NAMESPACE, '-o', 'json'])) as { data: Record<string, string> };
    const decode = (key: string): string => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');
    const serving = new X509Certificate(decode('tls.crt'));
    expect(serving.subjectAltName).toContain(`DNS:${RELEASE}.${NAMESPACE}.svc`);
    const webhook = JSON.parse(admin(['get', 'validatingwebhookconfiguration', RELEASE, '-o', 'json'])) as { webhooks: { clientConfig: { caBundle: string; service?: { name: string } } }[] };
    expect(webhook.webhooks.length).toBeGreaterThan(0);
    for (const hook of webhook.webhooks) {
      expect(hook.clientConfig.service?.name).toBe(RELEASE);
      const bundle = Buffer.from(hook.clientConfig.caBundle, 'base64').toString('utf8');
      const cas = bundle.split(/(?=-----BEGIN CERTIFICATE-----)/).filter((pem) => pem.trim() !== '').map((pem) => new X509Certificate(pem));
      expect(cas.some((ca) => serving.checkIssued(ca) && serving.verify(ca.publicKey))).toBe(true);
    }
  });

  it('refuses an agent\'s production delete and allows a human\'s, through the pods, which log the decisions', async () => {
    for (const [name, environment] of [[target.devNamespace, 'development'], [target.prodNamespace, 'production']] as const) {
      admin(['create', 'namespace', name]);
      admin(['label', 'namespace', name, `environment=${environment}`]);
    }
    admin(['create', 'configmap', target.victim, '-n', target.prodNamespace, '--from-literal=keep=1']);
    admin(['create', 'configmap', 'old-settings', '-n', target.prodNamespace, '--from-literal=drop=1']);
    const refused = kubectl('coder', ['delete', 'configmap', target.victim, '-n', target.prodNamespace]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(PENDING_APPROVAL);
    must(kubectl('sre-a', ['delete', 'configmap', 'old-settings', '-n', target.prodNamespace]), 'the human\'s delete');
    const logs = await eventually('the decision in the pods\' logs', 30_000, () => {
      const text = admin(['logs', '-n', NAMESPACE, '-l', SELECTOR, '--tail=-1', '--prefix']);
      return text.split('\n').some((line) => line.includes('"msg":"decision"') && line.includes(`"name":"${target.victim}"`)) ? text : undefined;
    });
    const line = logs.split('\n').find((entry) => entry.includes('"msg":"decision"') && entry.includes(`"name":"${target.victim}"`)) ?? '';
    const decision = JSON.parse(line.slice(line.indexOf('{'))) as { operation: string; agent: boolean; environment: string; decision: string };
    expect(decision).toMatchObject({ operation: 'DELETE', agent: true, environment: 'production' });
    expect(decision.decision).not.toBe('allow');
    process.stdout.write(`${line}\n`);
  }, 60_000);

  it('loses nothing when a pod is evicted under an agent\'s traffic, and the PodDisruptionBudget refuses a second eviction', async () => {
    const cluster = clusterOf(NODE_DIR);
    const stop = agentTraffic(cluster, tokenOf(NODE_DIR, 'coder'), target);
    await sleep(3_000);
    const [first, second] = readyPods();
    if (first === undefined || second === undefined) throw new Error('expected two ready pods');
    expect(evict(first.metadata.name)).toBe('evicted');
    expect(evict(second.metadata.name)).toMatch(/disruption budget/);
    await eventually('a replacement pod Ready', 120_000, () => (readyPods().length === 2 && !readyPods().some((pod) => pod.metadata.name === first.metadata.name) ? true : undefined));
    await sleep(3_000);
    const tally = await stop();
    process.stdout.write(`${figures('pod evicted', tally)}\n`);
    expectClean(tally);
  }, 240_000);

  it('upgrades to a new image tag under an agent\'s traffic without a failed or wrongly allowed request', async () => {
    ctr(['images', 'tag', DEFAULT_IMAGE, `${IMAGE}:0.1.0-upgrade`]);
    const stop = agentTraffic(clusterOf(NODE_DIR), tokenOf(NODE_DIR, 'coder'), target);
    await sleep(3_000);
    helm(['upgrade', RELEASE, CHART, '--namespace', NAMESPACE, '--reuse-values', '--set', 'image.tag=0.1.0-upgrade', '--wait', '--timeout', '300s']);
    await eventually('only upgraded pods', 120_000, () => (readyPods(`${IMAGE}:0.1.0-upgrade`).length === 2 && pods().length === 2 ? true : undefined));
    await sleep(3_000);
    const tally = await stop();
    process.stdout.write(`${figures('helm upgrade', tally)}\n`);
    expectClean(tally);
  }, 420_000);

  it('uninstalls through its pre-delete hook Job and leaves nothing of Countersign behind', async () => {
    helm(['uninstall', RELEASE, '--namespace', NAMESPACE, '--wait', '--timeout', '300s']);
    const events = JSON.parse(admin(['get', 'events', '-n', NAMESPACE, '-o', 'json'])) as { items: { reason: string; involvedObject: { kind: string; name: string } }[] };
    const hook = events.items.filter((event) => event.involvedObject.name.startsWith(`${RELEASE}-uninstall`));
    process.stdout.write(`${hook.map((event) => `${event.involvedObject.kind}/${event.involvedObject.name} ${event.reason}`).join('\n')}\n`);
    expect(hook.some((event) => event.involvedObject.kind === 'Job' && event.reason === 'Completed')).toBe(true);
    expect(hook.some((event) => event.involvedObject.kind === 'Pod' && event.reason === 'Started')).toBe(true);
    // Everything that exists now and did not before the install, but for what the tests made themselves and the
    // approval resources' data (kept with their CRDs, as Helm keeps CRDs: the record of what agents asked for).
    const kept = (name: string): boolean => name.startsWith('namespace/shop-') || /\.countersign\.dev\//.test(name);
    const leftovers = (): string[] => [...inventory()].filter((name) => !beforeInstall.has(name) && !kept(name));
    try {
      await eventually('nothing of the release left (the garbage collector takes the TLS Secret)', 60_000, () => (leftovers().length === 0 ? true : undefined));
    } catch {
      // The assertion below names what is left.
    }
    expect(leftovers()).toEqual([]);
    const data = [...inventory()].filter((name) => !beforeInstall.has(name) && /\.countersign\.dev\//.test(name));
    process.stdout.write(`kept after uninstall (the approval resources' data): ${data.join(', ')}\n`);
    expect(kubectl('admin', ['get', 'validatingwebhookconfiguration', RELEASE]).stderr).toContain('NotFound');
  }, 360_000);

  it('serves from manifests/ on the same cluster (the test stands in for cert-manager)', async () => {
    // manifests/ takes its serving certificate from cert-manager, which this cluster does not run: the test does
    // cert-manager's two jobs itself (the Secret from the Certificate, the CA injected into the webhook configuration)
    // and applies everything else exactly as rendered.
    const rendered = parseAllDocuments(readFileSync(join(ROOT, 'manifests', 'countersign.yaml'), 'utf8')).map((doc) => doc.toJS() as { kind?: string } | null);
    const standIn = rendered.filter((doc): doc is { kind: string } => doc !== null && (doc.kind === 'Certificate' || doc.kind === 'Issuer'));
    expect(standIn.map((doc) => doc.kind).sort()).toEqual(['Certificate', 'Issuer']);
    const applied = rendered.filter((doc) => doc !== null && !standIn.includes(doc as { kind: string }));
    const tls = mintServingCert(`countersign.${NAMESPACE}.svc`);
    admin(['create', 'secret', 'generic', 'countersign-tls', '-n', NAMESPACE, `--from-file=tls.crt=${tls.cert}`, `--from-file=tls.key=${tls.key}`, `--from-file=ca.crt=${tls.ca}`]);
    admin(['apply', '-f', '-'], applied.map((doc) => stringify(doc)).join('---\n'));
    const caBundle = readFileSync(tls.ca).toString('base64');
    rmSync(tls.dir, { recursive: true, force: true });
    const hooks = (JSON.parse(admin(['get', 'validatingwebhookconfiguration', 'countersign', '-o', 'json'])) as { webhooks: unknown[] }).webhooks;
    const patch = hooks.map((_, i) => ({ op: 'add', path: `/webhooks/${String(i)}/clientConfig/caBundle`, value: caBundle }));
    admin(['patch', 'validatingwebhookconfiguration', 'countersign', '--type', 'json', '-p', JSON.stringify(patch)]);
    await eventually('the manifests\' pods ready', 180_000, () => {
      const status = kubectl('admin', ['get', 'deployment', 'countersign', '-n', NAMESPACE, '-o', 'jsonpath={.status.readyReplicas}']).stdout;
      return status === '2' ? true : undefined;
    });
    const refused = await eventually('the agent refused through the manifests\' pods', 60_000, () => {
      const attempt = kubectl('coder', ['delete', 'configmap', target.victim, '-n', target.prodNamespace]);
      return attempt.stderr.includes(REFUSED_BY_COUNTERSIGN) ? attempt : undefined;
    });
    expect(refused.code).not.toBe(0);
    admin(['delete', '-f', '-', '--wait=true', '--timeout=120s'], applied.map((doc) => stringify(doc)).join('---\n'));
  }, 360_000);
});
