// `agent` in CEL: who is asking, and its bulk counters over a sliding window, this request included:
// `agent.deletes("60s")`, `agent.changes("5m")` (objects created, changed or deleted in the request's environment)
// and `agent.capacityRemoved("1h")` (the fraction of a workload's peak replicas gone after this request). The
// counts come from the activity record the edge read, or the share of it this replica leased (src/budgets).
import type { Environment } from '@marcbachmann/cel-js';
import { capacityRemovedWithin, changesCounter, countWithin, DELETES, parseWindow, type AgentActivity } from '../core/activity.js';
import type { ReplicaChange } from '../core/replica-change.js';
import { celError } from './k8s/errors.js';

export interface CelAgentFields {
  username: string;
  groups: readonly string[];
  serviceAccount: unknown;
  /** Absent when the edge did not read the record (the request is not counted, or offline without one). */
  activity?: AgentActivity;
  /** What this request adds to the delete count: 1 for a DELETE, 0 otherwise. */
  current: number;
  /** What this request adds to the change count: 1 for a CREATE, UPDATE or DELETE, 0 otherwise. */
  currentChange?: number;
  /** The request's environment: `changes` counts within it. */
  environment?: string;
  replicaChange?: ReplicaChange | undefined;
}

export class CelAgent {
  readonly username: string;
  readonly groups: readonly string[];
  readonly serviceAccount: unknown;
  readonly activity: AgentActivity | undefined;
  readonly current: number;
  readonly currentChange: number;
  readonly environment: string;
  readonly replicaChange: ReplicaChange | undefined;

  constructor(fields: CelAgentFields) {
    this.username = fields.username;
    this.groups = fields.groups;
    this.serviceAccount = fields.serviceAccount;
    this.activity = fields.activity;
    this.current = fields.current;
    this.currentChange = fields.currentChange ?? 0;
    this.environment = fields.environment ?? '';
    this.replicaChange = fields.replicaChange;
  }
}

function windowed(name: string, agent: CelAgent, window: string): { activity: AgentActivity; ms: number } {
  const ms = parseWindow(window);
  if (ms === undefined) throw celError(`agent.${name}: "${window}" is not a duration such as "60s", "10m" or "1h"`);
  if (agent.activity === undefined) throw celError(`agent.${name}: the agent's activity record was not read for this request`);
  if (ms > agent.activity.retentionMs) {
    throw celError(`agent.${name}: window ${window} is longer than budgets.retentionSeconds (${String(agent.activity.retentionMs / 1000)} s)`);
  }
  return { activity: agent.activity, ms };
}

function deletes(agent: CelAgent, window: string): bigint {
  const { activity, ms } = windowed('deletes', agent, window);
  return BigInt(countWithin(activity, DELETES, ms, agent.current));
}

function changes(agent: CelAgent, window: string): bigint {
  const { activity, ms } = windowed('changes', agent, window);
  return BigInt(countWithin(activity, changesCounter(agent.environment), ms, agent.currentChange));
}

function capacityRemoved(agent: CelAgent, window: string): number {
  if (agent.replicaChange === undefined || agent.replicaChange.after >= agent.replicaChange.before) return 0;
  const { activity, ms } = windowed('capacityRemoved', agent, window);
  return capacityRemovedWithin(activity, agent.replicaChange, ms);
}

export function registerAgentType(env: Environment): void {
  env.registerType('countersign.Agent', { ctor: CelAgent, fields: { username: 'string', groups: 'list<string>', serviceAccount: 'dyn' } });
  env.registerFunction('countersign.Agent.deletes(string): int', deletes);
  env.registerFunction('countersign.Agent.changes(string): int', changes);
  env.registerFunction('countersign.Agent.capacityRemoved(string): double', capacityRemoved);
}
