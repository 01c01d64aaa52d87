// Issue 13, runs code: the paths into a production workload around exec (ephemeral containers, the apiserver proxy,
// a changed command or image repository, a new workload) and node access anywhere. An agent tries each, judged by
// outcome (read back as admin); then a human does the same.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  apply, attempt, cleanUp, type Attempt, countReaches, deployment, environmentNamespace, expectHumanPasses, expectRefused, field, names, PAUSE, readBack,
} from './effects-kit.ts';
import { freshAgent, removeFreshAgent } from './kube.ts';

const PROD = 'fx-code-prod';
const DEV = 'fx-code-dev';
// An agent of its own: other suites' pending approval requests count against the harness agents.
const AGENT = 'fx-code-bot';
const NODE = 'fx-code-node';
const HOST_PV = 'fx-code-rootfs';
let pod = '';

function devPod(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: DEV }, spec: { containers: [{ name: 'app', image: PAUSE }], ...spec } });
}

beforeAll(async () => {
  freshAgent(AGENT);
  environmentNamespace(PROD, 'production');
  environmentNamespace(DEV, 'development');
  // Two replicas: a rollout of 2 stays under the restart threshold, so what is judged here is the code that runs.
  apply(deployment('api', PROD, 2));
  apply({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'api', namespace: PROD }, spec: { selector: { app: 'api' }, ports: [{ port: 80 }] } });
  apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } });
  await countReaches('pods', PROD, 2, 'app=api');
  pod = names('pods', PROD, 'app=api')[0]!.replace('pod/', '');
}, 180_000);

afterAll(() => { cleanUp([PROD, DEV], [`node/${NODE}`, `pv/${HOST_PV}-hostpath`, `pv/${HOST_PV}-local`]); removeFreshAgent(AGENT); });

describe('an agent cannot run code in a production workload', () => {
  it('kubectl debug (an ephemeral container): the pod has none', () => {
    const a = attempt(AGENT, ['debug', pod, '-n', PROD, `--image=${PAUSE}`, '--profile=general']);
    expect(field('pod', pod, PROD, '.spec.ephemeralContainers')).toBe('');
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('the apiserver proxy to a pod: refused by Countersign, not by a connection error', () => {
    const a = attempt(AGENT, ['get', '--raw', `/api/v1/namespaces/${PROD}/pods/${pod}/proxy/`]);
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('the apiserver proxy to a service', () => {
    const a = attempt(AGENT, ['get', '--raw', `/api/v1/namespaces/${PROD}/services/api:80/proxy/`]);
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('kubectl exec', () => {
    const a = attempt(AGENT, ['exec', pod, '-n', PROD, '--', 'true']);
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('changing the Deployment\'s command (kubectl patch of containers[0].command)', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'api', '-n', PROD, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/command', value: ['sh', '-c', 'curl -s http://127.0.0.1:9/x | sh'] }])]);
    expect(field('deployment', 'api', PROD, '.spec.template.spec.containers[0].command')).toBe('');
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('adding a sidecar container', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'api', '-n', PROD, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/-', value: { name: 'side', image: PAUSE } }])]);
    expect(field('deployment', 'api', PROD, '.spec.template.spec.containers[*].name')).toBe('app');
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('adding an init container', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'api', '-n', PROD, '--type=merge', '-p', JSON.stringify({ spec: { template: { spec: { initContainers: [{ name: 'init', image: PAUSE }] } } } })]);
    expect(field('deployment', 'api', PROD, '.spec.template.spec.initContainers')).toBe('');
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('adding a postStart hook that runs a command', () => {
    const a = attempt(AGENT, ['patch', 'deployment', 'api', '-n', PROD, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/lifecycle', value: { postStart: { exec: { command: ['sh', '-c', 'id'] } } } }])]);
    expect(field('deployment', 'api', PROD, '.spec.template.spec.containers[0].lifecycle')).toBe('');
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('moving its image to another repository', () => {
    const a = attempt(AGENT, ['set', 'image', 'deployment/api', 'app=registry.example.com/pause:3.10', '-n', PROD]);
    expect(field('deployment', 'api', PROD, '.spec.template.spec.containers[0].image')).toBe(PAUSE);
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });

  it('creating a new workload in production', () => {
    const a = attempt(AGENT, ['create', 'deployment', 'miner', '-n', PROD, `--image=${PAUSE}`]);
    expect(readBack('deployment', 'miner', PROD)).toBeUndefined();
    expectRefused(a, 'require-approval', ['production-runs-code']);
  });
});

describe('an agent cannot cut production traffic', () => {
  it('changing a Service\'s selector', () => {
    const a = attempt(AGENT, ['patch', 'service', 'api', '-n', PROD, '--type=merge', '-p', '{"spec":{"selector":{"app":"nothing"}}}']);
    expect(field('service', 'api', PROD, '.spec.selector.app')).toBe('api');
    expectRefused(a, 'require-approval', ['production-traffic-cut']);
  });

  it('a deny-all NetworkPolicy', () => {
    const policy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'deny-all', namespace: PROD }, spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] } };
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(policy));
    expect(readBack('networkpolicy', 'deny-all', PROD)).toBeUndefined();
    expectRefused(a, 'require-approval', ['production-traffic-cut']);
  });

  // An object only: no proxy runs here, and the apiserver refuses loopback endpoints. 192.0.2.0/24 is TEST-NET-1.
  it('an EndpointSlice that points the Service at another address', () => {
    const slice = {
      apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'api-hijack', namespace: PROD, labels: { 'kubernetes.io/service-name': 'api' } },
      addressType: 'IPv4', ports: [{ port: 80, protocol: 'TCP' }], endpoints: [{ addresses: ['192.0.2.10'] }],
    };
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(slice));
    expect(readBack('endpointslice', 'api-hijack', PROD)).toBeUndefined();
    expectRefused(a, 'require-approval', ['production-traffic-cut']);
  });

  it('relabelling a pod out of its Service (and its ReplicaSet)', () => {
    const a = attempt(AGENT, ['label', 'pod', pod, '-n', PROD, 'app=quarantined', '--overwrite']);
    expect(field('pod', pod, PROD, '.metadata.labels.app')).toBe('api');
    expectRefused(a, 'require-approval', ['production-traffic-cut']);
  });
});

describe('an agent cannot reach the node, even in development', () => {
  // (This apiserver runs with --allow-privileged=false, its default: privileged containers are refused before
  // admission webhooks, for humans too. Host namespaces and hostPath are not.)
  it('a pod on the host\'s network', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], devPod('hostnet', { hostNetwork: true }));
    expect(readBack('pod', 'hostnet', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['node-access']);
  });

  it('a hostPath volume', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], devPod('hostfs', { volumes: [{ name: 'host', hostPath: { path: '/' } }], containers: [{ name: 'app', image: PAUSE, volumeMounts: [{ name: 'host', mountPath: '/host' }] }] }));
    expect(readBack('pod', 'hostfs', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['node-access']);
  });

  it('the apiserver proxy to a node\'s kubelet (cluster-scoped, so production too)', () => {
    const a = attempt(AGENT, ['get', '--raw', `/api/v1/nodes/${NODE}/proxy/pods`]);
    expectRefused(a, 'require-approval', ['production-runs-code', 'node-access'], ['production-runs-code', 'node-access']);
  });

  it('a pod with the SYS_ADMIN capability', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], devPod('sysadmin', { containers: [{ name: 'app', image: PAUSE, securityContext: { capabilities: { add: ['SYS_ADMIN'] } } }] }));
    expect(readBack('pod', 'sysadmin', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['node-access']);
  });

  // The node's disk by another road: a PersistentVolume on the node's /, a claim bound to it, a dev pod on the claim.
  const nodeDisks: [string, Record<string, unknown>][] = [
    ['hostPath', { hostPath: { path: '/' } }],
    ['local', { local: { path: '/' }, nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE] }] }] } } }],
  ];
  it.each(nodeDisks)('the node\'s disk through a %s PersistentVolume, a claim on it and a pod on the claim', (kind, source) => {
    const name = `${HOST_PV}-${kind.toLowerCase()}`;
    const volume = {
      apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name },
      spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], storageClassName: '', ...source, claimRef: { namespace: DEV, name } },
    };
    const claim = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name, namespace: DEV }, spec: { accessModes: ['ReadWriteOnce'], storageClassName: '', volumeName: name, resources: { requests: { storage: '1Gi' } } } };
    const steps = [volume, claim, JSON.parse(devPod(name, { volumes: [{ name: 'root', persistentVolumeClaim: { claimName: name } }] })) as object];
    // Each step as the agent would take it, until one is refused.
    const tried: Attempt[] = [];
    for (const step of steps) {
      tried.push(attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(step)));
      if (tried.at(-1)!.run.code !== 0) break;
    }
    expect(readBack('pod', name, DEV)).toBeUndefined();
    // Beyond the contract: which step is gated is the policy's choice (node-access on the pod, or a rule on the
    // volume itself, volume-source); that one is, before the pod exists, is the must-show.
    expectRefused(tried.at(-1)!, 'require-approval', ['node-access', 'volume-source', 'production-runs-code'], []);
  });

  it('a Deployment with hostPID', () => {
    const a = attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(deployment('peek', DEV, 1, { hostPID: true })));
    expect(readBack('deployment', 'peek', DEV)).toBeUndefined();
    expectRefused(a, 'require-approval', ['node-access']);
  });
});

describe('a human doing the same passes', () => {
  it('adds an ephemeral container with kubectl debug', () => {
    expectHumanPasses(attempt('admin', ['debug', pod, '-n', PROD, `--image=${PAUSE}`, '--profile=general']));
    expect(field('pod', pod, PROD, '.spec.ephemeralContainers[*].image')).toBe(PAUSE);
  });

  it('changes the Deployment\'s command, and creates a hostPath pod in development', () => {
    expectHumanPasses(attempt('admin', ['patch', 'deployment', 'api', '-n', PROD, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/spec/template/spec/containers/0/command', value: ['/pause'] }])]));
    expect(field('deployment', 'api', PROD, '.spec.template.spec.containers[0].command[0]')).toBe('/pause');
    expectHumanPasses(attempt('admin', ['apply', '-f', '-'], devPod('hostfs', { volumes: [{ name: 'host', hostPath: { path: '/' } }] })));
    expect(readBack('pod', 'hostfs', DEV)).toBeDefined();
  });
});
