// Agents' activity records as AgentActivity objects in Countersign's namespace, one per agent, written with the
// resourceVersion that was read: the API server's optimistic concurrency is the compare-and-swap.
import { createHash } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../approvals/types.js';
import { apiErrorMessage, orUndefinedOn404, statusCode } from '../cluster/api-error.js';
import { retryTransient } from '../cluster/retry.js';
import type { ActivityEntry } from '../core/activity.js';
import type { ActivityStore } from './activity-store.js';

const PLURAL = 'agentactivities';

/** Usernames hold characters names may not (`:`): the object is named by a hash, the agent kept in spec. */
export function activityNameFor(agent: string): string {
  return `act-${createHash('sha256').update(agent).digest('hex')}`;
}

interface ActivityObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { agent: string; deletes: ActivityEntry[] };
}


function entriesOf(value: unknown): ActivityEntry[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item: unknown) => {
    const { at, count } = (item ?? {}) as { at?: unknown; count?: unknown };
    return typeof at === 'number' && typeof count === 'number' ? [{ at, count }] : [];
  });
}

export function kubeActivityStore(kc: KubeConfig, namespace: string): ActivityStore {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const where = { group: API_GROUP, version: API_VERSION, namespace, plural: PLURAL };
  return {
    async read(agent) {
      let object: ActivityObject | undefined;
      try {
        object = (await orUndefinedOn404(retryTransient(() => custom.getNamespacedCustomObject({ ...where, name: activityNameFor(agent) })))) as ActivityObject | undefined;
      } catch (error: unknown) {
        throw new Error(`cannot read the activity record of ${agent}: ${apiErrorMessage(error)}`, { cause: error });
      }
      if (object === undefined) return { deletes: [] };
      // The name is a hash of the agent: a record naming someone else is not this agent's.
      if (object.spec.agent !== agent) throw new Error(`activity record ${object.metadata.name} names ${object.spec.agent}, not ${agent}`);
      return { deletes: entriesOf(object.spec.deletes), ...(object.metadata.resourceVersion === undefined ? {} : { version: object.metadata.resourceVersion }) };
    },
    async write(agent, deletes, version) {
      const name = activityNameFor(agent);
      const body: ActivityObject = {
        apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'AgentActivity',
        metadata: { name, namespace, ...(version === undefined ? {} : { resourceVersion: version }) },
        spec: { agent, deletes },
      };
      try {
        if (version === undefined) await custom.createNamespacedCustomObject({ ...where, body });
        else await custom.replaceNamespacedCustomObject({ ...where, name, body });
        return true;
      } catch (error: unknown) {
        // 409: created or updated by another replica since we read.
        if (statusCode(error) === 409) return false;
        throw new Error(`cannot record the delete in the activity record of ${agent}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
  };
}
