// Agents' activity records as AgentActivity objects in Countersign's namespace, one per agent, written with the
// resourceVersion that was read: the API server's optimistic concurrency is the compare-and-swap.
import { createHash } from 'node:crypto';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION } from '../approvals/types.js';
import { apiErrorMessage, orUndefinedOn404, statusCode } from '../kube/api-error.js';
import { retryTransient } from '../kube/retry.js';
import type { ActivityBucket, ActivityLease, ActivityRecord, WorkloadPeak } from '../core/activity.js';
import type { ActivityStore } from './activity-store.js';
import { present } from '../kube/present.js';

const PLURAL = 'agentactivities';

/** Usernames hold characters names may not (`:`): the object is named by a hash, the agent kept in spec. */
export function activityNameFor(agent: string): string {
  return `act-${createHash('sha256').update(agent).digest('hex')}`;
}

interface ActivityObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: { agent: string; deletes?: unknown; buckets?: unknown; leases?: unknown; peaks?: unknown; peaksOverflowAt?: unknown };
}


function items(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((item): item is Record<string, unknown> => typeof item === 'object' && item !== null) : [];
}

const num = (value: unknown): value is number => typeof value === 'number';

/** The record as written, tolerating the first version's `deletes` (per-second delete counts). */
function recordOf(spec: ActivityObject['spec']): ActivityRecord {
  const buckets: ActivityBucket[] = [
    ...items(spec.deletes).flatMap(({ at, count }) => (num(at) && num(count) ? [{ at, counter: 'deletes', count }] : [])),
    ...items(spec.buckets).flatMap(({ at, counter, count }) => (num(at) && typeof counter === 'string' && num(count) ? [{ at, counter, count }] : [])),
  ];
  const leases: ActivityLease[] = items(spec.leases).flatMap(({ replica, counter, units, expires }) =>
    typeof replica === 'string' && typeof counter === 'string' && num(units) && num(expires) ? [{ replica, counter, units, expires }] : []);
  const peaks: WorkloadPeak[] = items(spec.peaks).flatMap(({ workload, samples }) =>
    typeof workload === 'string' ? [{ workload, samples: items(samples).flatMap(({ at, replicas }) => (num(at) && num(replicas) ? [{ at, replicas }] : [])) }] : []);
  return { buckets, leases, peaks, ...(num(spec.peaksOverflowAt) ? { peaksOverflowAt: spec.peaksOverflowAt } : {}) };
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
      if (object === undefined) return { buckets: [], leases: [], peaks: [] };
      // The name is a hash of the agent: a record naming someone else is not this agent's.
      if (object.spec.agent !== agent) throw new Error(`activity record ${object.metadata.name} names ${object.spec.agent}, not ${agent}`);
      return { ...recordOf(object.spec), ...present({ version: object.metadata.resourceVersion }) };
    },
    async write(agent, record, version) {
      const name = activityNameFor(agent);
      const body: ActivityObject = {
        apiVersion: `${API_GROUP}/${API_VERSION}`, kind: 'AgentActivity',
        metadata: { name, namespace, ...present({ resourceVersion: version }) },
        spec: { agent, ...record },
      };
      try {
        if (version === undefined) await custom.createNamespacedCustomObject({ ...where, body });
        else await custom.replaceNamespacedCustomObject({ ...where, name, body });
        return true;
      } catch (error: unknown) {
        // 409: created or updated by another replica since we read.
        if (statusCode(error) === 409) return false;
        throw new Error(`cannot write the activity record of ${agent}: ${apiErrorMessage(error)}`, { cause: error });
      }
    },
  };
}
