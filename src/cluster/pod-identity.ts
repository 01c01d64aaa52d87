// Which ServiceAccount a running pod is: asked when an agent opens a shell or a tunnel into it (exec, attach,
// port-forward), since the code it then runs acts with that pod's token. One GET per such request; they are rare.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { withTimeout } from '../kube/retry.js';

/** What a shell into a pod runs with: the pod's identity and its spec (host namespaces, volumes, privilege). */
export interface ConnectedPod {
  serviceAccount: string;
  spec: Record<string, unknown>;
}

export interface PodIdentities {
  /** The pod an agent connects to. Throws when it cannot be read, or what came back is not that pod. */
  podOf(namespace: string, pod: string): Promise<ConnectedPod>;
}

const TIMEOUT_MS = 2000;

export function kubePodIdentities(kc: KubeConfig, timeoutMs = TIMEOUT_MS): PodIdentities {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async podOf(namespace, name) {
      // A name like `..` would make the GET read another path (the namespace itself): only a pod's own name will do.
      if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || name.includes('..')) throw new Error(`not a pod name: ${JSON.stringify(name)}`);
      const pod = await withTimeout(core.readNamespacedPod({ namespace, name }), timeoutMs, `reading pod ${namespace}/${name}`);
      if (pod.metadata?.name !== name || pod.metadata.namespace !== namespace || pod.spec === undefined) {
        throw new Error(`reading pod ${namespace}/${name}: the answer is not that pod`);
      }
      const account = pod.spec.serviceAccountName ?? '';
      return { serviceAccount: account === '' ? 'default' : account, spec: JSON.parse(JSON.stringify(pod.spec)) as Record<string, unknown> };
    },
  };
}
