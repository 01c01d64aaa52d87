// Go-style durations as Kubernetes and its users write them (`90s`, `10m`, `1h30m`): the windows of budgets, of the
// CEL `agent` counters and of the plugin's flags all read them with this one parser.
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or undefined for anything signed, fractional, zero or too large. */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h)/g)) total += Number(amount) * (UNIT_MS[unit ?? ''] ?? 0);
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}
