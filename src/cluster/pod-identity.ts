// Which ServiceAccount a running pod is: asked when an agent opens a shell or a tunnel into it (exec, attach,
// port-forward), since the code it then runs acts with that pod's token. One GET per such request; they are rare.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

export interface PodIdentities {
  /** The pod's spec.serviceAccountName ('default' when unset). Throws when the pod cannot be read. */
  serviceAccountOf(namespace: string, pod: string): Promise<string>;
}

const TIMEOUT_MS = 2000;

export function kubePodIdentities(kc: KubeConfig, timeoutMs = TIMEOUT_MS): PodIdentities {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async serviceAccountOf(namespace, name) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => { reject(new Error(`reading pod ${namespace}/${name}: no answer in ${String(timeoutMs)} ms`)); }, timeoutMs);
      });
      try {
        const pod = await Promise.race([core.readNamespacedPod({ namespace, name }), timeout]);
        const account = pod.spec?.serviceAccountName ?? '';
        return account === '' ? 'default' : account;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
