// `agent` in CEL: who is asking, and its bulk counters over a sliding window, this request included:
// `agent.deletes("60s")`, `agent.changes("5m")` (objects created, changed or deleted in the request's environment)
// and `agent.capacityRemoved("1h")` (the fraction of a workload's peak replicas gone after this request). The type
// only reads windows and asks; the counting over the activity record is the core's (src/core/agent-counts.ts).
import type { Environment } from '@marcbachmann/cel-js';
import { parseDuration } from '../kube/duration.js';
import { celError } from './k8s/errors.js';

/** What the core answers for one request, over a window of the given length in milliseconds. */
export interface AgentCounts {
  /** The longest window a rule may ask about. */
  readonly retentionMs: number;
  deletes(windowMs: number): number;
  changes(windowMs: number): number;
  capacityRemoved(windowMs: number): number;
}

export interface CelAgentFields {
  username: string;
  groups: readonly string[];
  serviceAccount: unknown;
  /** Absent when the edge did not read the activity record (the request is not counted, or offline without one). */
  counts?: AgentCounts | undefined;
  /** False unless the request scales a workload down: `capacityRemoved` is then 0 whatever the record holds. */
  removesCapacity?: boolean;
}

export class CelAgent {
  readonly username: string;
  readonly groups: readonly string[];
  readonly serviceAccount: unknown;
  readonly counts: AgentCounts | undefined;
  readonly removesCapacity: boolean;

  constructor(fields: CelAgentFields) {
    this.username = fields.username;
    this.groups = fields.groups;
    this.serviceAccount = fields.serviceAccount;
    this.counts = fields.counts;
    this.removesCapacity = fields.removesCapacity ?? false;
  }
}

/** Windows are literals in a policy's rules: parsed once each, not on every request (bounded by the policies' text). */
const windowMs = new Map<string, number | undefined>();
const WINDOWS_KEPT = 256;

function parsedWindow(window: string): number | undefined {
  if (windowMs.has(window)) return windowMs.get(window);
  const ms = parseDuration(window);
  if (windowMs.size < WINDOWS_KEPT) windowMs.set(window, ms);
  return ms;
}

function windowed(name: string, agent: CelAgent, window: string): { counts: AgentCounts; ms: number } {
  const ms = parsedWindow(window);
  if (ms === undefined) throw celError(`agent.${name}: "${window}" is not a duration such as "60s", "10m" or "1h"`);
  if (agent.counts === undefined) throw celError(`agent.${name}: the agent's activity record was not read for this request`);
  if (ms > agent.counts.retentionMs) {
    throw celError(`agent.${name}: window ${window} is longer than activity.retentionSeconds (${String(agent.counts.retentionMs / 1000)} s)`);
  }
  return { counts: agent.counts, ms };
}

export function registerAgentType(env: Environment): void {
  env.registerType('countersign.Agent', { ctor: CelAgent, fields: { username: 'string', groups: 'list<string>', serviceAccount: 'dyn' } });
  env.registerFunction('countersign.Agent.deletes(string): int', (agent: CelAgent, window: string) => {
    const { counts, ms } = windowed('deletes', agent, window);
    return BigInt(counts.deletes(ms));
  });
  env.registerFunction('countersign.Agent.changes(string): int', (agent: CelAgent, window: string) => {
    const { counts, ms } = windowed('changes', agent, window);
    return BigInt(counts.changes(ms));
  });
  env.registerFunction('countersign.Agent.capacityRemoved(string): double', (agent: CelAgent, window: string) => {
    if (!agent.removesCapacity) return 0;
    const { counts, ms } = windowed('capacityRemoved', agent, window);
    return counts.capacityRemoved(ms);
  });
}
