// Output: a table for people, JSON or YAML for scripts.
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function render(format: OutputFormat, value: unknown, table: () => string): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`;
  if (format === 'yaml') return stringify(value, { lineWidth: 0 });
  return table();
}

/**
 * Names and messages can carry what an agent chose (an object's name, say): control characters could rewrite the
 * terminal - move the cursor, hide a line - so every cell is shown with them escaped.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function table(header: string[], rows: string[][]): string {
  rows = rows.map((row) => row.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('   ').trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

function span(seconds: number): string {
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`;
  return `${Math.round(seconds / 3600)}h`;
}

/** "5m" for the past, "in 10m" for the future, as kubectl prints ages. */
export function age(from: string | undefined, now: Date): string {
  if (from === undefined) return '-';
  const seconds = Math.round((now.getTime() - Date.parse(from)) / 1000);
  return seconds < 0 ? `in ${span(-seconds)}` : span(seconds);
}
