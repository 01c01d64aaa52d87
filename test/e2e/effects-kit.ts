// What the effects end-to-end files share: an attempt and its refusal read back from the webhook's own decision log,
// namespaces labelled with their environment, and small manifests for real objects.
import { eventually, kubectlAs, mustKubectl, webhookDecisions, type Run } from './kube.ts';

/** An agent's ServiceAccount username, as the decision log records the requester. */
export function agentUser(agent: string): string {
  return `system:serviceaccount:agents:${agent}`;
}

interface FiredRule {
  rule: string;
  tier: string;
}

/** A decision line with the rules that fired (the log has them; the shared LoggedDecision type does not say so). */
export interface EffectDecision {
  uid: string;
  requester: string;
  operation: string;
  resource: string;
  namespace: string;
  name: string;
  rule: string;
  tier: string;
  decision: string;
  fired: FiredRule[];
}

function decisions(): EffectDecision[] {
  return webhookDecisions() as unknown as EffectDecision[];
}

export interface Attempt {
  run: Run;
  /** What Countersign logged for this attempt's requests, in order (empty if none reached it). */
  logged: EffectDecision[];
  said: string;
}

/** Runs kubectl as `identity` and collects the decisions Countersign logged for that identity meanwhile. */
export function attempt(identity: string, args: string[], input?: string): Attempt {
  const before = decisions().length;
  const run = kubectlAs(identity, args, input);
  const human = ['admin', 'sre-a', 'sre-b', 'dev-a'].includes(identity);
  const user = human ? identity : agentUser(identity);
  const since = (): EffectDecision[] => decisions().slice(before).filter((d) => d.requester === user);
  // The log line may land just after kubectl has its answer: give an agent's decision a moment to appear. Humans'
  // requests never reach the webhook (its matchConditions), so there is nothing to wait for.
  for (let waited = 0; !human && since().length === 0 && waited < 3000; waited += 100) pause(100);
  return { run, logged: since(), said: `${run.stdout}\n${run.stderr}` };
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function explain(a: Attempt): string {
  const fired = a.logged.map((d) => `${d.operation} ${d.resource} ${d.namespace}/${d.name}: ${d.decision} by ${d.rule}, fired [${d.fired.map((f) => f.rule).join(', ')}]`);
  return `exit ${a.run.code}; kubectl said: ${a.said.trim()}\nCountersign logged: ${fired.join('; ') || 'nothing'}`;
}

const REFUSAL = {
  'require-approval': 'Countersign requires a human approval for this request',
  deny: 'Countersign denied this request',
} as const;

/**
 * The agent's attempt was refused by Countersign naming one of `named` (the first is the effect rule; others are
 * rules the contract makes fire on the same request too, where policy order decides which is quoted), and every
 * rule of `mustFire` fired. Throws with kubectl's output and the logged decisions, so a failure says what happened.
 */
export function expectRefused(a: Attempt, tier: keyof typeof REFUSAL, named: string[], mustFire: string[] = named.slice(0, 1)): string {
  const quoted = new RegExp(`${REFUSAL[tier]} \\(rule ([a-z0-9-]+)\\)`).exec(a.said)?.[1];
  const refusing = a.logged.find((d) => d.decision === 'denied');
  const firedRules = new Set(refusing?.fired.map((f) => f.rule) ?? []);
  const ok = a.run.code !== 0 && quoted !== undefined && named.includes(quoted) && mustFire.every((r) => firedRules.has(r));
  if (!ok) throw new Error(`expected a ${tier} refusal naming ${named.join(' or ')} with [${mustFire.join(', ')}] fired\n${explain(a)}`);
  return quoted;
}

/**
 * The agent's attempt went through, Countersign judged it (an agent's request it never logged was not judged at all:
 * no quiet allow), and it allowed without a word: no rule fired.
 */
export function expectAllowedQuietly(a: Attempt): void {
  const loud = a.logged.filter((d) => d.decision !== 'allowed' || d.fired.length > 0);
  if (a.logged.length === 0) throw new Error(`expected a quiet allow, but Countersign logged no decision for the agent's request\n${explain(a)}`);
  if (a.run.code !== 0 || /Countersign/.test(a.said) || loud.length > 0) throw new Error(`expected a quiet allow\n${explain(a)}`);
}

/** A human's attempt went through; Countersign either never heard of it or let it pass as a non-agent. */
export function expectHumanPasses(a: Attempt): void {
  const refused = a.logged.filter((d) => d.decision !== 'allowed');
  if (a.run.code !== 0 || refused.length > 0) throw new Error(`expected the human's request to pass\n${explain(a)}`);
}

export function environmentNamespace(name: string, environment: 'production' | 'development'): void {
  mustKubectl('admin', ['create', 'namespace', name]);
  mustKubectl('admin', ['label', 'namespace', name, `environment=${environment}`]);
}

export function apply(manifest: object | object[]): void {
  const items = Array.isArray(manifest) ? manifest : [manifest];
  mustKubectl('admin', ['apply', '-f', '-'], items.map((m) => JSON.stringify(m)).join('\n'));
}

/** The object as admin reads it back, or undefined when it does not exist. */
export function readBack(kind: string, name: string, namespace?: string): Record<string, unknown> | undefined {
  const run = kubectlAs('admin', ['get', kind, name, '-o', 'json', ...(namespace === undefined ? [] : ['-n', namespace])]);
  if (run.code !== 0) {
    if (/NotFound|not found/.test(run.stderr)) return undefined;
    throw new Error(`reading ${kind} ${name}: ${run.stderr}`);
  }
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

/** A jsonpath read as admin. */
export function field(kind: string, name: string, namespace: string | undefined, path: string): string {
  return mustKubectl('admin', ['get', kind, name, '-o', `jsonpath={${path}}`, ...(namespace === undefined ? [] : ['-n', namespace])]);
}

export function names(kind: string, namespace: string, selector?: string): string[] {
  const args = ['get', kind, '-n', namespace, '-o', 'name', ...(selector === undefined ? [] : ['-l', selector])];
  return mustKubectl('admin', args).trim().split('\n').filter(Boolean);
}

/** Waits until `count` objects of `kind` exist in the namespace (controllers are asynchronous). */
export async function countReaches(kind: string, namespace: string, count: number, selector?: string): Promise<void> {
  await eventually(`${count} ${kind} in ${namespace}`, 120_000, () => (names(kind, namespace, selector).length === count ? true : undefined));
}

export async function gone(kind: string, name: string, namespace?: string, timeoutMs = 90_000): Promise<void> {
  await eventually(`${kind} ${name} to be gone`, timeoutMs, () => (readBack(kind, name, namespace) === undefined ? true : undefined));
}

export const PAUSE = 'registry.k8s.io/pause:3.10';

export function deployment(name: string, namespace: string, replicas: number, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace },
    spec: {
      replicas, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: PAUSE }], ...extra } },
    },
  };
}

/** Deletes what a file made, as admin: finalizers held by tests are taken off first so nothing stays Terminating. */
export function cleanUp(namespaces: string[], clusterObjects: string[]): void {
  for (const ns of namespaces) {
    for (const kind of ['configmaps', 'persistentvolumeclaims', 'secrets']) {
      for (const name of names(kind, ns)) {
        kubectlAs('admin', ['patch', name, '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
      }
    }
    kubectlAs('admin', ['delete', 'namespace', ns, '--wait=false']);
  }
  for (const object of clusterObjects) kubectlAs('admin', ['delete', object, '--wait=false', '--ignore-not-found']);
}
