// The one way Countersign, its CLI and its kubectl plugin pick a kubeconfig: the file given, else the default
// chain (KUBECONFIG, ~/.kube/config, in-cluster), then the context given, as kubectl does.
import { KubeConfig } from '@kubernetes/client-node';

export function loadKubeConfig(kubeconfig: string | undefined, context?: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  else kc.loadFromDefault();
  if (context !== undefined) kc.setCurrentContext(context);
  return kc;
}
