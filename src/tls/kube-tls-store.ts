// Where self-managed TLS lives in the cluster: the Secret (written with the resourceVersion that was read, so
// replicas racing to rotate agree on one result) and the caBundle of Countersign's webhook configuration.
import {
  AdmissionregistrationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ObjectMeta, type V1OwnerReference, type V1Secret,
} from '@kubernetes/client-node';
import { apiErrorMessage, orUndefinedOn404, statusCode } from '../kube/api-error.js';
import { withTimeout } from '../kube/retry.js';
import type { TlsState } from './rotation-plan.js';
import { secretFromState, stateFromSecret } from './tls-secret.js';
import { present } from '../kube/present.js';

export interface TlsStore {
  /** The stored state and its version; undefined when there is no Secret yet. */
  read(): Promise<{ state: TlsState; version: string | undefined } | undefined>;
  /** False when another writer got there first (re-read and plan again). */
  write(state: TlsState, version: string | undefined): Promise<boolean>;
  /** What the webhook configuration holds now; undefined when it does not exist. */
  liveBundle(): Promise<LiveBundle | undefined>;
  /** Puts the bundle into every webhook of the configuration as it was read (refused if it changed since). */
  publishBundle(bundle: string, live: LiveBundle): Promise<void>;
}

export interface LiveBundle {
  /** PEM; "" when the webhooks disagree or hold none. */
  bundle: string;
  version: string | undefined;
  webhooks: number;
}

export interface TlsLocation {
  namespace: string;
  secretName: string;
  webhookConfiguration: string;
  /** Countersign's ServiceAccount (in `namespace`): the Secret's owner, so it goes when the installation does. */
  owner: string;
}

// A pass must finish well inside the propagation time; a hung connection must not hold it for minutes.
const CALL_TIMEOUT_MS = 10_000;
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'countersign' };

const decode = (base64: string): string => Buffer.from(base64, 'base64').toString('utf8');

export function kubeTlsStore(kc: KubeConfig, where: TlsLocation): TlsStore {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const { namespace, secretName: name, webhookConfiguration } = where;
  const timed = <T>(call: Promise<T>, what: string): Promise<T> => withTimeout(call, CALL_TIMEOUT_MS, what);
  // Labels and annotations others put on the Secret (backup exclusions, say) are kept across rewrites.
  let readMetadata: V1ObjectMeta | undefined;
  // Without an owner the Secret (holding the CA's key) would outlive an uninstall; a failed lookup is not fatal.
  const ownerReferences = async (): Promise<V1OwnerReference[] | undefined> => {
    try {
      const account = await timed(orUndefinedOn404(core.readNamespacedServiceAccount({ namespace, name: where.owner })), 'reading the owner ServiceAccount');
      const uid = account?.metadata?.uid;
      return uid === undefined ? undefined : [{ apiVersion: 'v1', kind: 'ServiceAccount', name: where.owner, uid }];
    } catch {
      return readMetadata?.ownerReferences;
    }
  };
  return {
    async read() {
      let secret: V1Secret | undefined;
      try {
        secret = await timed(orUndefinedOn404(core.readNamespacedSecret({ namespace, name })), `reading Secret ${namespace}/${name}`);
      } catch (error: unknown) {
        throw new Error(`cannot read Secret ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
      }
      readMetadata = secret?.metadata;
      if (secret === undefined) return undefined;
      const state = stateFromSecret({ data: secret.data ?? {}, annotations: secret.metadata?.annotations ?? {} });
      return { state, version: secret.metadata?.resourceVersion };
    },
    async write(state, version) {
      const { data, annotations } = secretFromState(state);
      try {
        const owners = await ownerReferences();
        const metadata: V1ObjectMeta = {
          name, namespace,
          labels: { ...(version === undefined ? {} : readMetadata?.labels), ...MANAGED_BY },
          annotations: { ...(version === undefined ? {} : readMetadata?.annotations), ...annotations },
          ...present({ ownerReferences: owners, resourceVersion: version }),
        };
        const body: V1Secret = { apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', data, metadata };
        if (version === undefined) await timed(core.createNamespacedSecret({ namespace, body }), `creating Secret ${namespace}/${name}`);
        else await timed(core.replaceNamespacedSecret({ namespace, name, body }), `writing Secret ${namespace}/${name}`);
        return true;
      } catch (error: unknown) {
        if (statusCode(error) === 409) return false;
        throw new Error(`cannot write Secret ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
    async liveBundle() {
      try {
        const config = await timed(orUndefinedOn404(admission.readValidatingWebhookConfiguration({ name: webhookConfiguration })), `reading ${webhookConfiguration}`);
        if (config === undefined) return undefined;
        const webhooks = config.webhooks ?? [];
        const bundles = new Set(webhooks.map((w) => w.clientConfig.caBundle ?? ''));
        return { bundle: bundles.size === 1 ? decode([...bundles][0] ?? '') : '', version: config.metadata?.resourceVersion, webhooks: webhooks.length };
      } catch (error: unknown) {
        throw new Error(`cannot read ValidatingWebhookConfiguration ${webhookConfiguration}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
    async publishBundle(bundle, live) {
      const encoded = Buffer.from(bundle, 'utf8').toString('base64');
      try {
        // A JSON patch of the caBundle fields only: a typed read-then-replace would drop fields this client does not
        // know, and the test on the version refuses to patch a configuration that changed since it was read.
        const patch = [
          { op: 'test', path: '/metadata/resourceVersion', value: live.version },
          ...Array.from({ length: live.webhooks }, (_, i) => ({ op: 'add', path: `/webhooks/${String(i)}/clientConfig/caBundle`, value: encoded })),
        ];
        await timed(
          admission.patchValidatingWebhookConfiguration({ name: webhookConfiguration, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)),
          `patching ${webhookConfiguration}`,
        );
      } catch (error: unknown) {
        throw new Error(`cannot publish the CA bundle to ValidatingWebhookConfiguration ${webhookConfiguration}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
  };
}
