// What `serve` hands the metrics once the cluster edges exist: the picture (read at scrape time) and the approval
// store (read periodically for the approval gauges).
import type { Logger } from 'pino';
import type { ApprovalStore } from '../approvals/store.js';
import type { Config } from '../config/schema.js';
import type { ClusterPicture } from '../picture/cluster-picture.js';
import { startApprovalCensus, type CensusRefresher } from './approval-census.js';
import type { Metrics } from './metrics.js';

export interface ClusterSources {
  picture: ClusterPicture;
  /** Absent when serving from a static snapshot: there are no approvals to count. */
  approvals?: { store: ApprovalStore } | undefined;
  config: Config;
  log: Logger;
}

export function observeCluster(metrics: Metrics, sources: ClusterSources): CensusRefresher {
  metrics.observePicture(sources.picture);
  if (sources.approvals === undefined) return { refresh: () => Promise.resolve(), stop: () => undefined };
  const deps = { store: sources.approvals.store, metrics, log: sources.log, now: () => new Date() };
  return startApprovalCensus(deps, sources.config.metrics.approvalsRefreshSeconds * 1000);
}
