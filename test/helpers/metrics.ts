// Reading samples back out of a metrics registry, and the edge's dependencies with a fresh registry per test.
import type { ReviewDeps } from '../../src/webhook/handle-review.js';
import { handleReview } from '../../src/webhook/handle-review.js';
import type { AdmissionRequest } from '../../src/kube/types.js';
import { memoryActivityStore } from '../../src/activity/activity-store.js';
import { staticNamespaceDirectory } from '../../src/cluster/namespace-directory.js';
import type { Judge } from '../../src/core/decide.js';
import { createLogger } from '../../src/observability/logger.js';
import { createMetrics, type Metrics } from '../../src/observability/metrics.js';
import { EMPTY_CLUSTER, heldOutNamespaces } from './fixtures.js';
import { recordingIdentityPower } from './identities.js';

export interface Sample {
  name: string;
  type: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample in the registry, histogram series under their own names (`_bucket`, `_sum`, `_count`). */
export async function samples(metrics: Metrics): Promise<Sample[]> {
  const out: Sample[] = [];
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    for (const value of metric.values as { metricName?: string; labels: Record<string, string | number>; value: number }[]) {
      const labels = Object.fromEntries(Object.entries(value.labels).map(([k, v]) => [k, String(v)]));
      out.push({ name: value.metricName ?? metric.name, type: String(metric.type), labels, value: value.value });
    }
  }
  return out;
}

/** The sum of a series' samples whose labels include `labels` (0 when there are none). */
export async function sampleSum(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  return (await samples(metrics))
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** The edge as `serve` wires it, with a fresh registry and in-memory budgets, the held-out namespaces. */
export function edgeDeps(judge: Judge, overrides: Partial<ReviewDeps> = {}): ReviewDeps & { metrics: Metrics } {
  return {
    judge: () => judge,
    namespaces: staticNamespaceDirectory(heldOutNamespaces()), picture: EMPTY_CLUSTER,
    log: createLogger('silent'), activity: { store: memoryActivityStore(), now: () => new Date() },
    // No one holds a dangerous right unless a test says so.
    identities: recordingIdentityPower(),
    ...overrides,
    metrics: createMetrics(false),
  };
}

/** One AdmissionReview through the real edge; the response, as the apiserver would read it. */
export async function review(deps: ReviewDeps, request: AdmissionRequest): Promise<{ allowed: boolean; code?: number; message?: string; warnings?: string[] }> {
  const result = await handleReview({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }, deps);
  if (result.status !== 200) throw new Error(result.body.error);
  const { response } = result.body;
  return {
    allowed: response.allowed,
    ...(response.status === undefined ? {} : { code: response.status.code, message: response.status.message }),
    ...(response.warnings === undefined ? {} : { warnings: response.warnings }),
  };
}
