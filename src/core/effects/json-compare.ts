// Reading and comparing JSON values: a finite number or nothing, and structural equality with chosen keys ignored
// ("did anything but these fields change?").
import { canonicalJson } from '../digest.js';

/** `value` without the named top-level keys. */
export function without(value: unknown, keys: readonly string[]): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const key of keys) Reflect.deleteProperty(copy, key);
  return copy;
}

export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a ?? null) === canonicalJson(b ?? null);
}

/** A JSON number, undefined for anything else (a missing field, a string, NaN). */
export function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
