// The chart's Grafana dashboard as the tests see it: every panel's PromQL with Grafana's variables filled in the
// way Grafana would, and the data file docs/dashboard.svg is drawn from (scripts/render-dashboard-svg.mjs).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Prometheus, Series } from './prometheus.ts';

export interface DashboardTarget {
  refId: string;
  expr: string;
  legendFormat?: string;
  instant?: boolean;
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: DashboardTarget[];
  fieldConfig?: { defaults?: { unit?: string } };
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string }[] };
}

/** What Grafana puts in place of the dashboard's variables, for a range [start, end] and a step. */
export interface Variables {
  job: string;
  rateInterval: string;
  /** The range in whole seconds: $__range is `${rangeSeconds}s`, $__range_s is the number. */
  rangeSeconds: number;
}

export function substitute(expr: string, vars: Variables): string {
  return expr
    .replaceAll('$__rate_interval', vars.rateInterval)
    .replaceAll('$__range_s', String(vars.rangeSeconds))
    .replaceAll('$__range', `${String(vars.rangeSeconds)}s`)
    .replaceAll('$job', vars.job);
}

/** Panels that query (rows have no targets). */
export function queryPanels(dashboard: Dashboard): (DashboardPanel & { targets: DashboardTarget[] })[] {
  return dashboard.panels.filter((panel): panel is DashboardPanel & { targets: DashboardTarget[] } => (panel.targets ?? []).length > 0);
}

/** Stats and bar gauges show one value per series over the dashboard's range; time series plot a range query. */
export function isInstant(panel: DashboardPanel): boolean {
  return panel.type === 'stat' || panel.type === 'bargauge';
}

export function finite(value: string): boolean {
  return Number.isFinite(Number(value));
}

export interface EvaluatedTarget {
  refId: string;
  expr: string;
  legendFormat: string;
  series: Series[];
}

export interface EvaluatedPanel {
  id: number;
  type: string;
  title: string;
  unit: string;
  gridPos: DashboardPanel['gridPos'];
  targets: EvaluatedTarget[];
}

/**
 * Evaluates every target of every panel through the Prometheus HTTP API over [start, end]: a range query for time
 * series, an instant query at `end` over the whole range for stats and bar gauges (returned as one-point series).
 */
export async function evaluateDashboard(
  prometheus: Prometheus,
  dashboard: Dashboard,
  window: { start: number; end: number; step: number; job: string; rateInterval: string },
): Promise<EvaluatedPanel[]> {
  const vars: Variables = { job: window.job, rateInterval: window.rateInterval, rangeSeconds: Math.ceil(window.end - window.start) };
  const panels: EvaluatedPanel[] = [];
  for (const panel of queryPanels(dashboard)) {
    const targets: EvaluatedTarget[] = [];
    for (const target of panel.targets) {
      const expr = substitute(target.expr, vars);
      const series = isInstant(panel)
        ? (await prometheus.query(expr, window.end)).map((sample) => ({ metric: sample.metric, values: [sample.value] }))
        : await prometheus.queryRange(expr, { start: window.start, end: window.end, step: window.step });
      targets.push({ refId: target.refId, expr, legendFormat: target.legendFormat ?? '', series });
    }
    panels.push({ id: panel.id, type: panel.type, title: panel.title, unit: panel.fieldConfig?.defaults?.unit ?? '', gridPos: panel.gridPos, targets });
  }
  return panels;
}

/** The data docs/dashboard.svg is drawn from (scripts/render-dashboard-svg.mjs). */
export function saveDashboardData(file: string, data: { dashboard: string; start: number; end: number; step: number; panels: EvaluatedPanel[]; alerts: string[] }): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(data)}\n`);
}
