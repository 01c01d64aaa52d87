// Issue 13, stops and restarts pods: requests that are not a scale-down or a delete, after which pods stop or every
// pod of a workload is replaced. An agent tries each in production (judged by outcome, read back as admin); then a
// human does the same and the controllers act on it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, mustKubectl, freshAgent, removeFreshAgent } from './kube.ts';
import {
  apply, attempt, cleanUp, countReaches, deployment, environmentNamespace, expectHumanPasses, expectRefused, field, names, PAUSE,
} from './effects-kit.ts';

const NS = 'fx-pods-prod';
// An agent of its own: other suites' pending approval requests count against the harness agents.
const AGENT = 'fx-pods-bot';
const NODE = 'fx-pods-node';

/** A Job the real Job controller would run 8 pods of; there is none here, so its 8 pods are made as admin. */
function batchJob(): object {
  return {
    apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'batch', namespace: NS },
    spec: { parallelism: 8, completions: 8, activeDeadlineSeconds: 3600, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: PAUSE }] } } },
  };
}

function jobPod(i: number, uid: string): object {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      name: `batch-${i}`, namespace: NS, labels: { 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': 'batch', 'controller-uid': uid, 'job-name': 'batch' },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'batch', uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { restartPolicy: 'Never', containers: [{ name: 'run', image: PAUSE }] },
  };
}

beforeAll(async () => {
  freshAgent(AGENT);
  environmentNamespace(NS, 'production');
  apply(deployment('web', NS, 12));
  // The human's own Deployment: what an agent's attempts on web did (or failed to stop) cannot blur its counts.
  apply(deployment('site', NS, 6));
  apply({
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name: 'web', namespace: NS },
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, minReplicas: 2, maxReplicas: 12, metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } }] },
  });
  // What the HPA controller would report: it runs 12 now.
  mustKubectl('admin', ['patch', 'hpa', 'web', '-n', NS, '--subresource=status', '--type=merge', '-p', '{"status":{"currentReplicas":12,"desiredReplicas":12}}']);
  // What the DaemonSet controller (not run here) would report on a 20-node cluster.
  apply({ apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'logs', namespace: NS }, spec: { selector: { matchLabels: { app: 'logs' } }, template: { metadata: { labels: { app: 'logs' } }, spec: { containers: [{ name: 'app', image: PAUSE }] } } } });
  const ds = JSON.stringify({ status: { desiredNumberScheduled: 20, currentNumberScheduled: 20, numberReady: 20, numberAvailable: 20, updatedNumberScheduled: 20, numberMisscheduled: 0, observedGeneration: 1 } });
  mustKubectl('admin', ['patch', 'daemonset', 'logs', '-n', NS, '--subresource=status', '--type=merge', '-p', ds]);
  apply(batchJob());
  const uid = field('job', 'batch', NS, '.metadata.uid');
  apply(Array.from({ length: 8 }, (_, i) => jobPod(i, uid)));
  const started = new Date(Date.now() - 60_000).toISOString();
  mustKubectl('admin', ['patch', 'job', 'batch', '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { active: 8, ready: 0, startTime: started } })]);
  apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, zone: 'a' } } });
  await countReaches('pods', NS, 12, 'app=web');
  await countReaches('pods', NS, 6, 'app=site');
}, 240_000);

afterAll(() => { cleanUp([NS], [`node/${NODE}`]); removeFreshAgent(AGENT); });

describe('an agent in production cannot stop pods by other means than a scale-down', () => {
  it('suspending a Job running 8 pods', () => {
    const a = attempt(AGENT, ['patch', 'job', 'batch', '-n', NS, '--type=merge', '-p', '{"spec":{"suspend":true}}']);
    expect(field('job', 'batch', NS, '.spec.suspend')).toBe('false');
    expectRefused(a, 'require-approval', ['production-pods-stopped']);
  });

  it('lowering the Job\'s activeDeadlineSeconds from 3600 to 1', () => {
    const a = attempt(AGENT, ['patch', 'job', 'batch', '-n', NS, '--type=merge', '-p', '{"spec":{"activeDeadlineSeconds":1}}']);
    expect(field('job', 'batch', NS, '.spec.activeDeadlineSeconds')).toBe('3600');
    expectRefused(a, 'require-approval', ['production-pods-stopped']);
  });

  it('lowering the Job\'s parallelism from 8 to 0', () => {
    const a = attempt(AGENT, ['patch', 'job', 'batch', '-n', NS, '--type=merge', '-p', '{"spec":{"parallelism":0}}']);
    expect(field('job', 'batch', NS, '.spec.parallelism')).toBe('8');
    expectRefused(a, 'require-approval', ['production-pods-stopped']);
  });

  it('lowering an HPA\'s maxReplicas to 2 while it runs 12', () => {
    const a = attempt(AGENT, ['patch', 'hpa', 'web', '-n', NS, '--type=merge', '-p', '{"spec":{"maxReplicas":2}}']);
    // production-autoscaler-change, if the policy still has it, matches any HPA change too: the effect rule must fire.
    expect(field('hpa', 'web', NS, '.spec.maxReplicas')).toBe('12');
    expectRefused(a, 'require-approval', ['production-pods-stopped', 'production-autoscaler-change'], ['production-pods-stopped']);
  });

  it('tainting a Node NoExecute (every pod on it is evicted)', () => {
    const a = attempt(AGENT, ['taint', 'node', NODE, 'fx=drain:NoExecute']);
    expect(field('node', NODE, undefined, '.spec.taints[?(@.key=="fx")].effect')).toBe('');
    expectRefused(a, 'require-approval', ['production-pods-stopped']);
  });

  it('relabelling a Node (pods selecting the old label lose it)', () => {
    const a = attempt(AGENT, ['label', 'node', NODE, 'zone=b', '--overwrite']);
    expect(field('node', NODE, undefined, '.metadata.labels.zone')).toBe('a');
    expectRefused(a, 'require-approval', ['production-pods-stopped']);
  });
});

describe('an agent in production cannot restart a 12-replica Deployment without approval', () => {
  it('kubectl rollout restart: the template annotation is unchanged', () => {
    const a = attempt(AGENT, ['rollout', 'restart', 'deployment/web', '-n', NS]);
    expect(field('deployment', 'web', NS, '.spec.template.metadata.annotations')).toBe('');
    expect(names('replicasets', NS, 'app=web')).toHaveLength(1);
    expectRefused(a, 'require-approval', ['production-rollout']);
  });

  it('kubectl set image within the same repository (a release of 12 pods)', () => {
    const a = attempt(AGENT, ['set', 'image', 'deployment/web', `app=${PAUSE.replace(':3.10', ':3.9')}`, '-n', NS]);
    expect(field('deployment', 'web', NS, '.spec.template.spec.containers[0].image')).toBe(PAUSE);
    expectRefused(a, 'require-approval', ['production-rollout']);
  });

  it('kubectl set image on a DaemonSet running 20 pods (one on every node)', () => {
    const a = attempt(AGENT, ['set', 'image', 'daemonset/logs', `app=${PAUSE.replace(':3.10', ':3.9')}`, '-n', NS]);
    expect(field('daemonset', 'logs', NS, '.spec.template.spec.containers[0].image')).toBe(PAUSE);
    expectRefused(a, 'require-approval', ['production-rollout']);
  });

  it('kubectl set resources (a resize by rollout: 12 pods replaced)', () => {
    const a = attempt(AGENT, ['set', 'resources', 'deployment/web', '-n', NS, '--limits=memory=64Mi']);
    expect(field('deployment', 'web', NS, '.spec.template.spec.containers[0].resources')).toBe('{}');
    expectRefused(a, 'require-approval', ['production-rollout']);
  });

  it('kubectl set env (new environment: it also changes what runs)', () => {
    const a = attempt(AGENT, ['set', 'env', 'deployment/web', 'FEATURE=on', '-n', NS]);
    expect(field('deployment', 'web', NS, '.spec.template.spec.containers[0].env')).toBe('');
    expectRefused(a, 'require-approval', ['production-rollout', 'production-runs-code'], ['production-rollout', 'production-runs-code']);
  });
});

describe('an agent in production cannot stop more than 5 pods by lowering replicas, however it writes it', () => {
  it('a merge patch of spec.replicas from 12 to 6 (exactly half: below the scale-down rule\'s bar)', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'web', '-n', NS, '--type=merge', '-p', '{"spec":{"replicas":6}}']);
    expect(field('deployment', 'web', NS, '.spec.replicas')).toBe('12');
    expectRefused(a, 'require-approval', ['production-pods-stopped']);
  });
});

describe('a human doing the same passes, and the controllers act on it', () => {
  it('scales a Deployment from 6 to 2: the ReplicaSet controller removes 4 pods', async () => {
    expectHumanPasses(attempt('admin', ['scale', 'deployment', 'site', '-n', NS, '--replicas=2']));
    await countReaches('pods', NS, 2, 'app=site');
  });

  it('restarts it: the Deployment controller rolls out a new ReplicaSet', async () => {
    expectHumanPasses(attempt('admin', ['rollout', 'restart', 'deployment/site', '-n', NS]));
    expect(field('deployment', 'site', NS, '.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt')).not.toBe('');
    await eventually('a second ReplicaSet', 60_000, () => (names('replicasets', NS, 'app=site').length === 2 ? true : undefined));
  });

  it('suspends the Job and taints the Node NoExecute', () => {
    expectHumanPasses(attempt('admin', ['patch', 'job', 'batch', '-n', NS, '--type=merge', '-p', '{"spec":{"suspend":true}}']));
    expect(field('job', 'batch', NS, '.spec.suspend')).toBe('true');
    expectHumanPasses(attempt('admin', ['taint', 'node', NODE, 'fx=drain:NoExecute']));
    expect(field('node', NODE, undefined, '.spec.taints[?(@.key=="fx")].effect')).toBe('NoExecute');
  });
});
