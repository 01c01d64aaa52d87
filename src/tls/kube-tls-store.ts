// Where self-managed TLS lives in the cluster: the Secret (written with the resourceVersion that was read, so
// replicas racing to rotate agree on one result) and the caBundle of Countersign's webhook configuration.
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, type V1OwnerReference, type V1Secret } from '@kubernetes/client-node';
import { apiErrorMessage, orUndefinedOn404, statusCode } from '../cluster/api-error.js';
import type { TlsState } from './rotation-plan.js';
import { secretFromState, stateFromSecret } from './tls-secret.js';

export type PublishResult = 'unchanged' | 'updated' | 'missing' | 'conflict';

export interface TlsStore {
  /** The stored state and its version; undefined when there is no Secret yet. */
  read(): Promise<{ state: TlsState; version: string | undefined } | undefined>;
  /** False when another writer got there first (re-read and plan again). */
  write(state: TlsState, version: string | undefined): Promise<boolean>;
  /** Puts the bundle into every webhook of the webhook configuration. */
  publishBundle(bundle: string): Promise<PublishResult>;
}

export interface TlsLocation {
  namespace: string;
  secretName: string;
  webhookConfiguration: string;
  /** Countersign's ServiceAccount (in `namespace`): the Secret's owner, so it goes when the installation does. */
  owner: string;
}

export function kubeTlsStore(kc: KubeConfig, where: TlsLocation): TlsStore {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const { namespace, secretName: name } = where;
  // Without an owner the Secret (holding the CA's key) would outlive an uninstall; a missing one is not fatal.
  const ownerReferences = async (): Promise<V1OwnerReference[]> => {
    const account = await orUndefinedOn404(core.readNamespacedServiceAccount({ namespace, name: where.owner }));
    const uid = account?.metadata?.uid;
    return uid === undefined ? [] : [{ apiVersion: 'v1', kind: 'ServiceAccount', name: where.owner, uid }];
  };
  return {
    async read() {
      let secret: V1Secret | undefined;
      try {
        secret = await orUndefinedOn404(core.readNamespacedSecret({ namespace, name }));
      } catch (error: unknown) {
        throw new Error(`cannot read Secret ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
      }
      if (secret === undefined) return undefined;
      const state = stateFromSecret({ data: secret.data ?? {}, annotations: secret.metadata?.annotations ?? {} });
      return { state, version: secret.metadata?.resourceVersion };
    },
    async write(state, version) {
      const { data, annotations } = secretFromState(state);
      try {
        const metadata = {
          name, namespace, annotations, labels: { 'app.kubernetes.io/managed-by': 'countersign' }, ownerReferences: await ownerReferences(),
          ...(version === undefined ? {} : { resourceVersion: version }),
        };
        const body: V1Secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', data, metadata };
        if (version === undefined) await core.createNamespacedSecret({ namespace, body });
        else await core.replaceNamespacedSecret({ namespace, name, body });
        return true;
      } catch (error: unknown) {
        if (statusCode(error) === 409) return false;
        throw new Error(`cannot write Secret ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
    async publishBundle(bundle) {
      const encoded = Buffer.from(bundle, 'utf8').toString('base64');
      try {
        const config = await orUndefinedOn404(admission.readValidatingWebhookConfiguration({ name: where.webhookConfiguration }));
        if (config === undefined) return 'missing';
        const webhooks = config.webhooks ?? [];
        if (webhooks.every((w) => w.clientConfig.caBundle === encoded)) return 'unchanged';
        for (const webhook of webhooks) webhook.clientConfig.caBundle = encoded;
        await admission.replaceValidatingWebhookConfiguration({ name: where.webhookConfiguration, body: config });
        return 'updated';
      } catch (error: unknown) {
        if (statusCode(error) === 409) return 'conflict';
        throw new Error(`cannot publish the CA bundle to ValidatingWebhookConfiguration ${where.webhookConfiguration}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
  };
}
