// The approval gauges: ApprovalRequests by state and the oldest pending one's age, recomputed periodically from
// the approval resources (never on the scrape path, never on the request path). The state is the phase a person
// sees in `kubectl countersign list`, computed the same way.
import type { Logger } from 'pino';
import type { ApprovalStore } from '../approvals/store.js';
import type { ApprovalObject, ApprovalRequestObject } from '../approvals/types.js';
import { effectivePhase } from '../approvals/phase.js';
import { APPROVAL_STATES, type ApprovalState, type Metrics } from './metrics.js';

export interface ApprovalCensus {
  states: Record<ApprovalState, number>;
  /** Seconds since the oldest pending request was created; 0 when none is pending. */
  oldestPendingSeconds: number;
}

function byRequest(approvals: readonly ApprovalObject[]): Map<string, ApprovalObject[]> {
  const grouped = new Map<string, ApprovalObject[]>();
  for (const approval of approvals) {
    const list = grouped.get(approval.spec.requestName);
    if (list === undefined) grouped.set(approval.spec.requestName, [approval]);
    else list.push(approval);
  }
  return grouped;
}

export function approvalCensus(requests: readonly ApprovalRequestObject[], approvals: readonly ApprovalObject[], now: Date): ApprovalCensus {
  const states = Object.fromEntries(APPROVAL_STATES.map((state) => [state, 0])) as Record<ApprovalState, number>;
  const grouped = byRequest(approvals);
  let oldest: number | undefined;
  for (const request of requests) {
    const state = effectivePhase(request, grouped.get(request.metadata.name) ?? [], now).toLowerCase() as ApprovalState;
    states[state] += 1;
    const created = Date.parse(request.metadata.creationTimestamp ?? '');
    if (state === 'pending' && !Number.isNaN(created)) oldest = Math.min(oldest ?? created, created);
  }
  return { states, oldestPendingSeconds: oldest === undefined ? 0 : Math.max(0, (now.getTime() - oldest) / 1000) };
}

export interface CensusDeps {
  store: Pick<ApprovalStore, 'listAll'>;
  metrics: Metrics;
  log: Logger;
  now: () => Date;
}

export interface CensusRefresher {
  /** Recomputes the gauges now; a failure is logged and counted, and the gauges keep their last values. */
  refresh(): Promise<void>;
  stop(): void;
}

/** Refreshes the approval gauges at once and then every `intervalMs`; the timer never keeps the process alive. */
export function startApprovalCensus(deps: CensusDeps, intervalMs: number): CensusRefresher {
  let running: Promise<void> | undefined;
  const run = async (): Promise<void> => {
    try {
      const { requests, approvals } = await deps.store.listAll();
      const census = approvalCensus(requests, approvals, deps.now());
      for (const state of APPROVAL_STATES) deps.metrics.approvalRequests.set({ state }, census.states[state]);
      deps.metrics.approvalOldestPendingSeconds.set(census.oldestPendingSeconds);
      deps.metrics.approvalRefreshes.inc({ result: 'ok' });
    } catch (error: unknown) {
      deps.metrics.approvalRefreshes.inc({ result: 'error' });
      deps.log.warn({ err: error }, 'cannot read the approval resources for the approval metrics; keeping the last values');
    }
  };
  // A slow API server must not pile refreshes up: one at a time.
  const refresh = (): Promise<void> => {
    running ??= run().finally(() => { running = undefined; });
    return running;
  };
  void refresh();
  const timer = setInterval(() => { void refresh(); }, intervalMs);
  timer.unref();
  return { refresh, stop: () => { clearInterval(timer); } };
}
