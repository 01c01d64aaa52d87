// The counters behind CEL's `agent` (src/cel/agent.ts) for one request: the activity record's counts over a window,
// this request included, so a rule sees the total the request would make.
import type { AgentCounts } from '../cel/agent.js';
import { capacityRemovedWithin, changesCounter, countWithin, DELETES, type AgentActivity } from './activity.js';
import type { ReplicaChange } from './replica-change.js';

export interface ThisRequest {
  /** What it adds to the delete count: 1 for a DELETE, 0 otherwise. */
  deletes: number;
  /** What it adds to the change count: 1 for a CREATE, UPDATE or DELETE, 0 otherwise. */
  changes: number;
  /** Its environment: `changes` counts within it. */
  environment: string;
  replicaChange: ReplicaChange | undefined;
}

export function agentCounts(activity: AgentActivity, request: ThisRequest): AgentCounts {
  return {
    retentionMs: activity.retentionMs,
    deletes: (ms) => countWithin(activity, DELETES, ms, request.deletes),
    changes: (ms) => countWithin(activity, changesCounter(request.environment), ms, request.changes),
    capacityRemoved: (ms) => capacityRemovedWithin(activity, request.replicaChange, ms),
  };
}

export function removesCapacity(change: ReplicaChange | undefined): boolean {
  return change !== undefined && change.after < change.before;
}
