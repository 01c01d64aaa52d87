// Draws the main panels of the chart's Grafana dashboard (charts/countersign/dashboards/countersign.json) to a PNG
// from the data a real Prometheus returned during the observability end-to-end test (test/e2e/observability.test.ts
// saves it to .run/observability/dashboard-data.json). No Grafana, browser or system fonts: scripts/png-canvas.mjs.
//
//   npm run dashboard:picture [-- --data FILE] [--out docs/dashboard.png]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Canvas, fit, lineHeight, textWidth, wrap } from './png-canvas.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const WIDTH = 1600;
const GAP = 12;
const THEME = { background: '#111217', panel: '#181b1f', border: '#2c3235', grid: '#24292e', title: '#d8d9da', text: '#ccccdc', muted: '#8e8e9e' };
const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#96d98d', '#fade2a', '#ffb357'];
const NAMED = { green: '#73bf69', red: '#f2495c', orange: '#ff9830', blue: '#5794f2', yellow: '#fade2a', purple: '#b877d9' };

/** The panels drawn, row by row, by title: the ones a platform team looks at first. */
export const LAYOUT = [
  { height: 124, titles: ['Blocked agent actions', 'Audited agent actions', 'Approved agent actions', 'Pending approvals', 'Oldest pending approval', 'Refused: could not judge', 'Replicas up'] },
  { height: 330, titles: ['Blocked agent actions by agent and rule', 'Agent decisions by tier'] },
  { height: 300, titles: ['Top agents by blocked actions', 'Rules that blocked agents', 'Approval requests by state'] },
  { height: 300, titles: ['Webhook latency seen by the apiserver', 'Decision latency', 'Apiserver rejections and fail-open'] },
];

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

/** legendFormat with {{label}} replaced by the series' labels, as Grafana does. */
export function legend(format, metric) {
  const text = format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, label) => metric[label] ?? '');
  return text === '' ? JSON.stringify(metric) : text;
}

/** A "nice" upper bound and tick step for values up to `max`. */
export function niceScale(max, ticks = 4) {
  const top = max > 0 ? max : 1;
  const raw = top / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  return { max: Math.ceil(top / step) * step, step };
}

function clock(seconds) {
  return new Date(seconds * 1000).toISOString().slice(11, 19);
}

/** The panel's box and title (wrapped to `titleLines` lines); returns the y below the title. */
function panelFrame(canvas, box, title, titleLines = 1) {
  canvas.fillRect(box, THEME.panel);
  canvas.strokeRect(box, THEME.border);
  const lines = wrap(title, box.w - 24, 2, titleLines);
  lines.forEach((line, i) => canvas.text(line, box.x + 12, box.y + 10 + i * lineHeight(2), { color: THEME.title, scale: 2 }));
  return box.y + 10 + lines.length * lineHeight(2);
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

/** A stat: its value, or with several targets (e.g. replicas up and scraped) their values as "3 / 4" over their names. */
function drawStat(canvas, box, { panel, data }) {
  const top = panelFrame(canvas, box, panel.title, 2);
  const defaults = panel.fieldConfig?.defaults ?? {};
  const fields = data.targets.flatMap((t) => t.series.map((s) => ({ value: lastValue(s), name: legend(t.legendFormat, s.metric) })));
  const value = fields.length === 0 ? NaN : fields[0].value;
  const shown = fields.length === 0 ? (defaults.noValue ?? 'No data') : fields.map((f) => formatValue(f.value, defaults.unit, defaults.decimals)).join(' / ');
  const caption = fields.length > 1 ? fit(fields.map((f) => f.name).join(' / '), box.w - 24, 2) : '';
  const scale = textWidth(shown, 6) < box.w - 24 ? 6 : 4;
  const space = box.y + box.h - top - (caption === '' ? 0 : lineHeight(2));
  const x = box.x + (box.w - textWidth(shown, scale)) / 2;
  const y = top + (space - 7 * scale) / 2;
  canvas.text(shown, x, y, { color: thresholdColor(defaults, Number.isFinite(value) ? value : 0), scale });
  if (caption !== '') canvas.text(caption, box.x + (box.w - textWidth(caption, 2)) / 2, y + 7 * scale + 8, { color: THEME.muted });
}

function drawBarGauge(canvas, box, { panel, data }) {
  panelFrame(canvas, box, panel.title);
  const defaults = panel.fieldConfig?.defaults ?? {};
  const bars = data.targets.flatMap((t) => t.series.map((s) => ({ label: legend(t.legendFormat, s.metric), value: lastValue(s) })))
    .filter((bar) => Number.isFinite(bar.value))
    .sort((a, b) => b.value - a.value);
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  const fill = color(defaults.color?.fixedColor) ?? PALETTE[0];
  let y = box.y + 46;
  for (const bar of bars) {
    if (y + 52 > box.y + box.h) break;
    const shown = formatValue(bar.value, defaults.unit, defaults.decimals);
    canvas.text(fit(bar.label, box.w - 24, 2), box.x + 12, y, { color: THEME.text });
    const width = box.w - 36 - textWidth(shown, 3);
    canvas.fillRect({ x: box.x + 12, y: y + 24, w: width, h: 22 }, THEME.grid);
    canvas.fillRect({ x: box.x + 12, y: y + 24, w: Math.max(2, (width * bar.value) / max), h: 22 }, fill);
    canvas.text(shown, box.x + box.w - 12 - textWidth(shown, 3), y + 21, { color: fill, scale: 3 });
    y += 58;
  }
}

/** The legend's lines: colour swatch and text per series, wrapped to the panel's width (at most `maxLines`). */
function legendLines(entries, width, maxLines) {
  const lines = [[]];
  let used = 0;
  for (const entry of entries) {
    const text = fit(entry.label, width - 30, 2);
    const w = 26 + textWidth(text, 2) + 16;
    if (used + w > width && lines.at(-1).length > 0) {
      if (lines.length === maxLines) break;
      lines.push([]);
      used = 0;
    }
    lines.at(-1).push({ ...entry, text });
    used += w;
  }
  return lines;
}

function drawLegend(canvas, box, lines) {
  lines.forEach((line, row) => {
    let x = box.x + 12;
    const y = box.y + box.h - 10 - (lines.length - row) * lineHeight(2);
    for (const entry of line) {
      canvas.fillRect({ x, y: y + 7, w: 18, h: 4 }, entry.color);
      x = canvas.text(entry.text, x + 26, y, { color: THEME.text }) + 16;
    }
  });
}

function drawAxes(canvas, plot, { scale, unit, decimals, window }) {
  for (let v = 0; v <= scale.max + scale.step / 2; v += scale.step) {
    const y = plot.y + plot.h - (v / scale.max) * plot.h;
    canvas.fillRect({ x: plot.x, y, w: plot.w, h: 1 }, THEME.grid);
    const label = formatValue(v, unit, decimals);
    canvas.text(label, plot.x - 8 - textWidth(label, 2), y - 8, { color: THEME.muted });
  }
  // Time labels: the first left-aligned, the last right-aligned, as many between as fit.
  const width = textWidth(clock(window.start), 2);
  const intervals = Math.max(1, Math.min(4, Math.floor(plot.w / (width + 40))));
  for (let i = 0; i <= intervals; i++) {
    const label = clock(window.start + ((window.end - window.start) * i) / intervals);
    const x = plot.x + (plot.w * i) / intervals - (width * i) / intervals;
    canvas.text(label, x, plot.y + plot.h + 8, { color: THEME.muted });
  }
}

function drawSeries(canvas, plot, { series, window, scale, hex }) {
  const step = window.step ?? 1;
  let previous;
  for (const [t, raw] of series.values) {
    const v = Number(raw);
    const point = Number.isFinite(v) ? [plot.x + ((t - window.start) / (window.end - window.start)) * plot.w, plot.y + plot.h - (Math.min(v, scale.max) / scale.max) * plot.h] : undefined;
    if (point !== undefined && previous !== undefined && t - previous.t <= step * 2.5) canvas.line(previous.point, point, hex, 3);
    previous = point === undefined ? undefined : { t, point };
  }
}

function drawTimeSeries(canvas, box, { panel, data, window }) {
  panelFrame(canvas, box, panel.title);
  const defaults = panel.fieldConfig?.defaults ?? {};
  const all = data.targets.flatMap((t) => t.series.map((s) => ({ series: s, label: legend(t.legendFormat, s.metric) })))
    .filter(({ series }) => series.values.some(([, v]) => Number.isFinite(Number(v))));
  all.forEach((entry, i) => { entry.color = PALETTE[i % PALETTE.length]; });
  const lines = legendLines(all, box.w - 24, 3);
  const peak = Math.max(0, ...all.flatMap(({ series }) => series.values.map(([, v]) => Number(v)).filter(Number.isFinite)));
  const scale = niceScale(defaults.max ?? peak);
  const labelWidth = Math.max(...[0, scale.step, scale.max].map((v) => textWidth(formatValue(v, defaults.unit, defaults.decimals), 2)));
  const plot = { x: box.x + 20 + labelWidth, y: box.y + 48, w: box.w - 40 - labelWidth, h: box.h - 48 - 40 - lines.length * lineHeight(2) };
  drawAxes(canvas, plot, { scale, unit: defaults.unit, decimals: defaults.decimals, window });
  for (const entry of all) drawSeries(canvas, plot, { series: entry.series, window, scale, hex: entry.color });
  drawLegend(canvas, box, lines);
}

const DRAW = { stat: drawStat, bargauge: drawBarGauge, timeseries: drawTimeSeries };

function header(canvas, data) {
  canvas.text('Countersign', GAP, 16, { color: THEME.title, scale: 4 });
  const when = new Date(data.end * 1000).toISOString().slice(0, 16).replace('T', ' ');
  const caption = `Grafana dashboard drawn from a real Prometheus: end-to-end run of ${data.end - data.start} s, ${when} UTC`;
  canvas.text(caption, WIDTH - GAP - textWidth(caption, 2), 28, { color: THEME.muted });
}

/** The alerts that fired during the run (the test injects the faults they watch for), as red chips. */
function alertStrip(canvas, data, top) {
  let x = GAP;
  let y = top;
  const label = 'Alerts that fired during the run (faults injected by the test):';
  canvas.text(label, x, y + 6, { color: THEME.muted });
  x += textWidth(label, 2) + 12;
  for (const name of data.alerts) {
    const w = textWidth(name, 2) + 20;
    if (x + w > WIDTH - GAP) {
      x = GAP;
      y += 34;
    }
    canvas.fillRect({ x, y, w, h: 28 }, '#f2495c', 0.25);
    canvas.strokeRect({ x, y, w, h: 28 }, '#f2495c');
    canvas.text(name, x + 10, y + 6, { color: '#ffa6b0' });
    x += w + 8;
  }
  return y + 34 + GAP;
}

function stripHeight(data) {
  const probe = new Canvas(1, 1, THEME.background);
  return alertStrip(probe, data, 0);
}

export function renderDashboard(dashboard, data) {
  const byTitle = new Map(dashboard.panels.map((panel) => [panel.title, panel]));
  const dataById = new Map(data.panels.map((panel) => [panel.id, panel]));
  const top = 76;
  const height = top + stripHeight(data) + LAYOUT.reduce((sum, row) => sum + row.height + GAP, 0);
  const canvas = new Canvas(WIDTH, height, THEME.background);
  header(canvas, data);
  let y = alertStrip(canvas, data, top);
  const window = { start: data.start, end: data.end, step: data.step };
  for (const row of LAYOUT) {
    const w = (WIDTH - GAP * (row.titles.length + 1)) / row.titles.length;
    row.titles.forEach((title, i) => {
      const panel = byTitle.get(title);
      const panelData = panel === undefined ? undefined : dataById.get(panel.id);
      if (panel === undefined || panelData === undefined) throw new Error(`no panel "${title}" in the dashboard or its data`);
      DRAW[panel.type](canvas, { x: GAP + i * (w + GAP), y, w, h: row.height }, { panel, data: panelData, window });
    });
    y += row.height + GAP;
  }
  return canvas.png();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { data: { type: 'string' }, out: { type: 'string' }, dashboard: { type: 'string' } } });
  const dataFile = values.data ?? process.env.COUNTERSIGN_DASHBOARD_DATA ?? join(ROOT, '.run', 'observability', 'dashboard-data.json');
  const out = values.out ?? join(ROOT, 'docs', 'dashboard.png');
  const dashboard = JSON.parse(readFileSync(values.dashboard ?? join(ROOT, 'charts', 'countersign', 'dashboards', 'countersign.json'), 'utf8'));
  let data;
  try {
    data = JSON.parse(readFileSync(dataFile, 'utf8'));
  } catch {
    console.error(`no data at ${dataFile}: run npm run test:e2e -- test/e2e/observability.test.ts first`);
    process.exit(2);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, renderDashboard(dashboard, data));
  console.log(`wrote ${out} from ${dataFile}`);
}

