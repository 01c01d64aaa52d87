// `agent` in CEL: who is asking, and `agent.deletes("60s")`, the agent's deletes in a sliding window counting the
// request being judged. The count comes from the activity record the edge read for this request.
import type { Environment } from '@marcbachmann/cel-js';
import { deletesWithin, parseWindow, type AgentActivity } from '../core/activity.js';
import { celError } from './k8s/errors.js';

export interface CelAgentFields {
  username: string;
  groups: readonly string[];
  serviceAccount: unknown;
  /** Absent when the edge did not read the record (the request is not a DELETE, or offline without one). */
  activity?: AgentActivity;
  /** What this request adds to the count: 1 for a DELETE, 0 otherwise. */
  current: number;
}

export class CelAgent {
  readonly username: string;
  readonly groups: readonly string[];
  readonly serviceAccount: unknown;
  readonly activity: AgentActivity | undefined;
  readonly current: number;

  constructor(fields: CelAgentFields) {
    this.username = fields.username;
    this.groups = fields.groups;
    this.serviceAccount = fields.serviceAccount;
    this.activity = fields.activity;
    this.current = fields.current;
  }
}

function deletes(agent: CelAgent, window: string): bigint {
  const ms = parseWindow(window);
  if (ms === undefined) throw celError(`agent.deletes: "${window}" is not a duration such as "60s", "10m" or "1h"`);
  if (agent.activity === undefined) throw celError('agent.deletes: the agent\'s activity record was not read for this request');
  if (ms > agent.activity.retentionMs) {
    throw celError(`agent.deletes: window ${window} is longer than budgets.retentionSeconds (${String(agent.activity.retentionMs / 1000)} s)`);
  }
  return BigInt(deletesWithin(agent.activity, ms, agent.current));
}

export function registerAgentType(env: Environment): void {
  env.registerType('countersign.Agent', { ctor: CelAgent, fields: { username: 'string', groups: 'list<string>', serviceAccount: 'dyn' } });
  env.registerFunction('countersign.Agent.deletes(string): int', deletes);
}
