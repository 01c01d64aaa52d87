// `countersign remove-webhook-config --name NAME`: what the chart's pre-delete hook runs, so uninstalling takes the
// webhook out of the admission path before its pods go. Already gone is success: the hook may run twice.
import { parseArgs } from 'node:util';
import { orUndefinedOn404 } from '../kube/api-error.js';
import { UsageError } from './args.js';

export async function removeWebhookConfigCommand(argv: string[]): Promise<string> {
  let values: { name?: string; kubeconfig?: string };
  try {
    values = parseArgs({ args: argv, strict: true, options: { name: { type: 'string' }, kubeconfig: { type: 'string' } } }).values;
  } catch (error: unknown) {
    throw new UsageError([error instanceof Error ? error.message : String(error)]);
  }
  const name = values.name;
  if (name === undefined || name === '') throw new UsageError(['--name: which ValidatingWebhookConfiguration?']);
  const { AdmissionregistrationV1Api } = await import('@kubernetes/client-node');
  const { loadKubeConfig } = await import('../kube/kubeconfig.js');
  const api = loadKubeConfig(values.kubeconfig).makeApiClient(AdmissionregistrationV1Api);
  const deleted = await orUndefinedOn404(api.deleteValidatingWebhookConfiguration({ name }));
  return deleted === undefined ? `validatingwebhookconfiguration ${name} was already gone\n` : `validatingwebhookconfiguration ${name} deleted\n`;
}
