// Draws the main panels of the chart's Grafana dashboard to docs/dashboard.svg with Vega-Lite, from what a real Prometheus returned in the observability e2e (dashboard-data.json).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as vega from 'vega';
import { compile } from 'vega-lite';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WIDTH = 1600;
const GAP = 14;
const FONT = 'Inter, "Helvetica Neue", Helvetica, Arial, sans-serif';
const THEME = { background: '#111217', panel: '#181b1f', border: '#2c3235', grid: '#2a2e33', title: '#d8d9da', text: '#ccccdc', muted: '#8e8e9e' };
const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#96d98d', '#fade2a', '#ffb357'];
const NAMED = { green: '#73bf69', red: '#f2495c', orange: '#ff9830', blue: '#5794f2', yellow: '#fade2a', purple: '#b877d9' };
const LEGEND_LINE = 18;
const LEGEND_LINES = 3;

/** The panels drawn, row by row, by title (the ones a platform team looks at first), and each row's plot height. */
export const LAYOUT = [
  { height: 92, titles: ['Blocked agent actions', 'Audited agent actions', 'Approved agent actions', 'Pending approvals', 'Oldest pending approval', 'Refused: could not judge', 'Replicas up'] },
  { height: 290, titles: ['Blocked agent actions by agent and rule', 'Agent decisions by tier'] },
  { height: 260, titles: ['Top agents by blocked actions', 'Rules that blocked agents', 'Approval requests by state'] },
  { height: 260, titles: ['Webhook latency seen by the apiserver', 'Decision latency', 'Apiserver rejections and fail-open'] },
];

/**
 * Text width in pixels for a sans-serif font, by character class. Vega has no font metrics without a canvas (it
 * guesses 0.8 em a character, which truncates titles and spreads legends); this keeps its layout close to the text.
 */
export function textWidth(text, fontSize) {
  let em = 0;
  for (const ch of String(text)) {
    if (/[ijlI.,:;'|!]/.test(ch)) em += 0.28;
    else if (/[ftr ()[\]\-/]/.test(ch)) em += 0.36;
    else if (/[mwMW@]/.test(ch)) em += 0.9;
    else if (/[A-Z]/.test(ch)) em += 0.7;
    else em += 0.6;
  }
  return Math.ceil(em * fontSize);
}
vega.textMetrics.width = (item, text) => textWidth(text ?? item.text ?? '', item.fontSize ?? 11);

function color(name) {
  if (name === undefined) return undefined;
  return NAMED[name] ?? (name.startsWith('#') ? name : undefined);
}

/** A value as Grafana would show it for the panel's unit and decimals. */
export function formatValue(value, unit, decimals) {
  if (!Number.isFinite(value)) return '-';
  if (unit === 's') {
    const abs = Math.abs(value);
    if (abs === 0) return '0 s';
    if (abs < 1e-3) return `${trim(value * 1e6)} \u00b5s`;
    if (abs < 1) return `${trim(value * 1e3)} ms`;
    if (abs < 120) return `${trim(value)} s`;
    return `${trim(value / 60)} min`;
  }
  if (decimals !== undefined) return value.toFixed(decimals);
  return trim(value);
}

function trim(value) {
  const abs = Math.abs(value);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : 2;
  return String(Number(value.toFixed(digits)));
}

/** The same formatting as a Vega expression, for axis labels. */
function axisLabelExpr(unit) {
  const n = (scale) => `format(datum.value * ${scale}, '.3~r')`;
  if (unit === 's') {
    return `datum.value == 0 ? '0' : abs(datum.value) < 0.001 ? ${n(1e6)} + ' \u00b5s' : abs(datum.value) < 1 ? ${n(1e3)} + ' ms' : ${n(1)} + ' s'`;
  }
  return `abs(datum.value) >= 1000 ? format(datum.value, '.3~s') : ${n(1)}`;
}

/** legendFormat with {{label}} replaced by the series' labels, as Grafana does. */
export function legend(format, metric) {
  const text = format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label) => metric[label] ?? '');
  return text === '' ? JSON.stringify(metric) : text;
}

function lastValue(series) {
  const finite = series.values.filter(([, v]) => Number.isFinite(Number(v)));
  return finite.length === 0 ? NaN : Number(finite.at(-1)[1]);
}

function thresholdColor(defaults, value) {
  const steps = defaults.thresholds?.steps ?? [];
  let chosen = steps[0]?.color;
  for (const step of steps) if (step.value !== null && value >= step.value) chosen = step.color;
  return color(chosen) ?? THEME.text;
}

function title(text, width) {
  return { text, limit: width, fontSize: 14, fontWeight: 500, color: THEME.title, anchor: 'start', offset: 8 };
}

/** Marks drawn at pixel positions (no scales): what stats and bar gauges are made of. */
function pixel(mark, fields) {
  const encoding = {};
  for (const [channel, field] of Object.entries(fields)) {
    if (channel === 'text') encoding.text = { field };
    else if (channel === 'color') encoding.color = { field, type: 'nominal', scale: null, legend: null };
    else encoding[channel] = { field, type: 'quantitative', scale: null };
  }
  return { mark, encoding };
}

/** A stat: its value, or with several targets (e.g. replicas up and scraped) their values as "3 / 4" over their names. */
function statChart({ panel, data }, width, height) {
  const defaults = panel.fieldConfig?.defaults ?? {};
  const fields = data.targets.flatMap((t) => t.series.map((s) => ({ value: lastValue(s), name: legend(t.legendFormat, s.metric) })));
  const value = fields.length === 0 ? NaN : fields[0].value;
  const shown = fields.length === 0 ? (defaults.noValue ?? 'No data') : fields.map((f) => formatValue(f.value, defaults.unit, defaults.decimals)).join(' / ');
  const caption = fields.length > 1 ? fields.map((f) => f.name).join(' / ') : '';
  const size = textWidth(shown, 44) < width - 24 ? 44 : 30;
  const values = [{ x: width / 2, y: caption === '' ? height / 2 : height / 2 - 8, text: shown, size, color: thresholdColor(defaults, Number.isFinite(value) ? value : 0) }];
  if (caption !== '') values.push({ x: width / 2, y: height - 14, text: caption, size: 12, color: THEME.muted });
  return {
    title: title(panel.title, width),
    width,
    height,
    data: { values },
    ...pixel({ type: 'text', align: 'center', baseline: 'middle', fontWeight: 500 }, { x: 'x', y: 'y', text: 'text', size: 'size', color: 'color' }),
  };
}

/** A horizontal bar gauge as Grafana's "basic" mode draws it: the name above, the bar over its unfilled track, the value at the right. */
function barGaugeChart({ panel, data }, width, height) {
  const defaults = panel.fieldConfig?.defaults ?? {};
  const fill = color(defaults.color?.fixedColor) ?? PALETTE[0];
  const bars = data.targets.flatMap((t) => t.series.map((s) => ({ label: legend(t.legendFormat, s.metric), value: lastValue(s) })))
    .filter((bar) => Number.isFinite(bar.value))
    .sort((a, b) => b.value - a.value);
  const step = Math.min(60, Math.max(44, height / Math.max(1, bars.length)));
  const shownBars = bars.slice(0, Math.floor(height / step));
  const max = Math.max(1, ...shownBars.map((bar) => bar.value));
  const valueWidth = Math.max(40, ...shownBars.map((bar) => textWidth(formatValue(bar.value, defaults.unit, defaults.decimals), 22)));
  const track = width - 36 - valueWidth;
  const rows = shownBars.map((bar, i) => {
    const top = 10 + i * step;
    return { ...bar, shown: formatValue(bar.value, defaults.unit, defaults.decimals), top, barTop: top + 20, barBottom: top + 20 + Math.min(24, step - 26), left: 12, track: 12 + track, end: 12 + Math.max(2, (track * bar.value) / max), right: width - 12 };
  });
  const layer = [
    pixel({ type: 'rect', color: THEME.grid }, { x: 'left', x2: 'track', y: 'barTop', y2: 'barBottom' }),
    pixel({ type: 'rect', color: fill, opacity: 0.9 }, { x: 'left', x2: 'end', y: 'barTop', y2: 'barBottom' }),
    pixel({ type: 'text', align: 'left', baseline: 'top', fontSize: 13, color: THEME.text, limit: width - 24 }, { x: 'left', y: 'top', text: 'label' }),
    pixel({ type: 'text', align: 'right', baseline: 'middle', fontSize: 22, fontWeight: 500, color: fill, dy: 10 }, { x: 'right', y: 'barTop', text: 'shown' }),
  ];
  if (rows.length === 0) layer.push(noData(width, height));
  return { title: title(panel.title, width), width, height, data: { values: rows }, layer };
}

function noData(width, height) {
  return { data: { values: [{ x: width / 2, y: height / 2, text: 'No data' }] }, ...pixel({ type: 'text', fontSize: 16, color: THEME.muted }, { x: 'x', y: 'y', text: 'text' }) };
}

/** How the legend is laid out under a time series of this width: columns, lines, and how many entries fit. */
function legendLayout(labels, plotWidth) {
  const entry = Math.max(60, ...labels.map((label) => 24 + textWidth(label, 12) + 18));
  const columns = Math.max(1, Math.min(labels.length, Math.floor(plotWidth / entry)));
  const lines = Math.min(LEGEND_LINES, Math.ceil(labels.length / columns));
  return { columns, lines, limit: Math.max(40, Math.floor(plotWidth / columns) - 42), shown: columns * lines };
}

/** Room inside a time series' box for the y-axis labels on the left and the time labels under the plot. */
const Y_AXIS = 60;
const X_AXIS = 26;

/**
 * A time series as Grafana draws it, all inside the panel's box: the y-axis labels at the left, the times under the
 * plot and the legend at the bottom (one entry per series, named by the target's legendFormat).
 */
function timeSeriesChart({ panel, data, window }, width, height) {
  const defaults = panel.fieldConfig?.defaults ?? {};
  const all = data.targets.flatMap((t) => t.series.map((s) => ({ series: s, label: legend(t.legendFormat, s.metric) })))
    .filter(({ series }) => series.values.some(([, v]) => Number.isFinite(Number(v))));
  const labels = [...new Set(all.map(({ label }) => label))];
  const points = all.flatMap(({ series, label }, key) => series.values.filter(([, v]) => Number.isFinite(Number(v))).map(([t, v]) => ({ t: t * 1000, v: Number(v), s: label, k: key })));
  if (points.length === 0) return { title: title(panel.title, width), width, height, layer: [noData(width, height)] };
  const lay = legendLayout(labels, width - 24);
  const legendTop = height - 8 - lay.lines * LEGEND_LINE;
  const plotBottom = legendTop - X_AXIS;
  const y = {
    field: 'v',
    type: 'quantitative',
    stack: null,
    scale: { zero: true, nice: 4, range: [plotBottom, 12], ...(defaults.min === undefined ? {} : { domainMin: defaults.min }), ...(defaults.max === undefined ? {} : { domainMax: defaults.max }) },
    axis: { title: null, tickCount: 4, labelExpr: axisLabelExpr(defaults.unit), offset: -Y_AXIS, domain: false, ticks: false, labelPadding: 8 },
  };
  const x = {
    field: 't',
    type: 'temporal',
    scale: { type: 'utc', domain: [window.start * 1000, window.end * 1000], range: [Y_AXIS, width - 14] },
    axis: { title: null, format: '%H:%M:%S', tickCount: 5, labelFlush: true, domain: false, ticks: false, orient: 'top', labelBaseline: 'top', labelPadding: -(plotBottom + 6) },
  };
  const color = {
    field: 's',
    type: 'nominal',
    scale: { domain: labels, range: PALETTE },
    legend: {
      title: null, orient: 'none', legendX: 12, legendY: legendTop, direction: 'horizontal', columns: lay.columns, labelLimit: lay.limit, symbolLimit: lay.shown,
      symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1, symbolSize: 180, labelFontSize: 12, labelColor: THEME.text, rowPadding: 4, columnPadding: 18,
    },
  };
  return {
    title: title(panel.title, width),
    width,
    height,
    data: { values: points },
    encoding: { x, y, detail: { field: 'k', type: 'nominal' }, color },
    layer: [
      { mark: { type: 'area', opacity: 0.1, interpolate: 'linear' } },
      { mark: { type: 'line', strokeWidth: 2, interpolate: 'linear' } },
    ],
  };
}

/** Each panel has its own colours and legend, as in Grafana. */
const INDEPENDENT = { scale: { color: 'independent' }, legend: { color: 'independent' } };

const CHART = { stat: statChart, bargauge: barGaugeChart, timeseries: timeSeriesChart };

/** The alerts that fired during the run (the test injects the faults they watch for), as red chips. */
function alertStrip(alerts) {
  const label = 'Alerts that fired during the run (faults injected by the test):';
  const chips = [];
  let x = textWidth(label, 13) + 14;
  let y = 0;
  for (const name of alerts) {
    const w = textWidth(name, 13) + 22;
    if (x + w > WIDTH) {
      x = 0;
      y += 34;
    }
    chips.push({ x, x2: x + w, y, y2: y + 26, tx: x + 11, ty: y + 13, text: name });
    x += w + 8;
  }
  const height = y + 26;
  return {
    width: WIDTH,
    height,
    view: { fill: null, stroke: null },
    layer: [
      { data: { values: [{ x: 0, y: 13, text: label }] }, ...pixel({ type: 'text', align: 'left', baseline: 'middle', fontSize: 13, color: THEME.muted }, { x: 'x', y: 'y', text: 'text' }) },
      { data: { values: chips }, ...pixel({ type: 'rect', fill: '#f2495c', fillOpacity: 0.22, stroke: '#f2495c', cornerRadius: 3 }, { x: 'x', x2: 'x2', y: 'y', y2: 'y2' }) },
      { data: { values: chips }, ...pixel({ type: 'text', align: 'left', baseline: 'middle', fontSize: 13, color: '#ffa6b0' }, { x: 'tx', y: 'ty', text: 'text' }) },
    ],
  };
}

/** The Vega-Lite spec: a header, the alert strip, then one hconcat per row of LAYOUT. */
export function dashboardSpec(dashboard, data) {
  const byTitle = new Map(dashboard.panels.map((panel) => [panel.title, panel]));
  const dataById = new Map(data.panels.map((panel) => [panel.id, panel]));
  const window = { start: data.start, end: data.end, step: data.step };
  const rows = LAYOUT.map((row) => {
    // Each box is a pixel wider than its width (its border), hence the - 1.
    const width = Math.floor((WIDTH - GAP * (row.titles.length - 1)) / row.titles.length) - 1;
    return {
      resolve: INDEPENDENT,
      hconcat: row.titles.map((panelTitle) => {
        const panel = byTitle.get(panelTitle);
        const panelData = panel === undefined ? undefined : dataById.get(panel.id);
        if (panel === undefined || panelData === undefined) throw new Error(`no panel "${panelTitle}" in the dashboard or its data`);
        return CHART[panel.type]({ panel, data: panelData, window }, width, row.height);
      }),
    };
  });
  const when = new Date(data.end * 1000).toISOString().slice(0, 16).replace('T', ' ');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: dashboard.title ?? 'Countersign',
      subtitle: `Grafana dashboard drawn from a real Prometheus: end-to-end run of ${data.end - data.start} s, ${when} UTC`,
      anchor: 'start', fontSize: 26, fontWeight: 500, color: THEME.title, subtitleColor: THEME.muted, subtitleFontSize: 14, subtitlePadding: 6, offset: 18,
    },
    resolve: INDEPENDENT,
    align: 'none',
    bounds: 'full',
    vconcat: [...(data.alerts.length === 0 ? [] : [alertStrip(data.alerts)]), ...rows],
    spacing: GAP + 10,
    config: {
      background: THEME.background,
      padding: 20,
      font: FONT,
      view: { fill: THEME.panel, stroke: THEME.border, cornerRadius: 3 },
      concat: { spacing: GAP },
      axis: { gridColor: THEME.grid, labelColor: THEME.muted, labelFontSize: 12, domainColor: THEME.border },
      legend: { labelFont: FONT },
    },
  };
}

/** The dashboard picture as an SVG document, rendered by Vega without a browser. */
export async function renderDashboard(dashboard, data) {
  const view = new vega.View(vega.parse(compile(dashboardSpec(dashboard, data)).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

//   npm run dashboard:picture [-- --data FILE] [--out docs/dashboard.svg] [--dashboard FILE]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, dashboard: { type: 'string' } } });
  const dataFile = values.data ?? process.env.COUNTERSIGN_DASHBOARD_DATA ?? join(ROOT, '.run', 'observability', 'dashboard-data.json');
  const out = values.out ?? join(ROOT, 'docs', 'dashboard.svg');
  const dashboard = JSON.parse(readFileSync(values.dashboard ?? join(ROOT, 'charts', 'countersign', 'dashboards', 'countersign.json'), 'utf8'));
  let data;
  try {
    data = JSON.parse(readFileSync(dataFile, 'utf8'));
  } catch {
    console.error(`no data at ${dataFile}: run npm run test:e2e -- test/e2e/observability.test.ts first`);
    process.exit(2);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${await renderDashboard(dashboard, data)}\n`);
  console.log(`wrote ${out} from ${dataFile}`);
}
