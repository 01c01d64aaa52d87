// string.format(list) from cel-go's strings extension (version 2): %s %d %f %b %x %X %o and %%, with an optional
// precision (%.2f). %e is left out: cel-go renders it with locale-specific digits and ×10 superscripts.
import { celError } from './errors.js';

const textEncoder = new TextEncoder();

function typeName(value: unknown): string {
  if (value === null) return 'null_type';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'number') return 'double';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (value instanceof Uint8Array) return 'bytes';
  if (Array.isArray(value)) return 'list';
  return typeof value === 'object' ? 'map' : typeof value;
}

function plainDouble(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf';
  return String(value);
}

/** How a value sits inside a formatted list or map: strings quoted, so the result reads as a CEL literal. */
function nested(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value instanceof Uint8Array) return `b${JSON.stringify(new TextDecoder().decode(value))}`;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value.toFixed(6) : JSON.stringify(plainDouble(value));
  }
  return asString(value);
}

function entriesOf(value: object): [unknown, unknown][] {
  return value instanceof Map ? [...(value as Map<unknown, unknown>).entries()] : Object.entries(value);
}

function asString(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return plainDouble(value);
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return `[${value.map(nested).join(', ')}]`;
  if (typeof value === 'object') {
    const pairs = entriesOf(value).map(([k, v]) => [nested(k), nested(v)] as const);
    pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${pairs.map(([k, v]) => `${k}:${v}`).join(', ')}}`;
  }
  throw celError(`string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, types, durations, and timestamps, was given ${typeName(value)}`);
}

function fixed(value: unknown, precision: number): string {
  if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return fixed(Number(value), precision);
  if (typeof value !== 'number') throw celError(`fixed-point clause can only be used on doubles, was given ${typeName(value)}`);
  if (!Number.isFinite(value)) return plainDouble(value);
  return value.toFixed(Math.min(precision, 100));
}

function radix(value: unknown, base: number, verb: string): string {
  if (typeof value === 'bigint') return value.toString(base);
  if (base === 2 && typeof value === 'boolean') return value ? '1' : '0';
  if (base === 16 && (typeof value === 'string' || value instanceof Uint8Array)) {
    const bytes = typeof value === 'string' ? textEncoder.encode(value) : value;
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  throw celError(`the %${verb} clause cannot format a value of type ${typeName(value)}`);
}

function clause(verb: string, precision: number | undefined, value: unknown): string {
  switch (verb) {
    case 's':
      return asString(value);
    case 'd':
      if (typeof value !== 'bigint') throw celError(`decimal clause can only be used on integers, was given ${typeName(value)}`);
      return value.toString();
    case 'f':
      return fixed(value, precision ?? 6);
    case 'b':
      return radix(value, 2, verb);
    case 'o':
      return radix(value, 8, verb);
    case 'x':
      return radix(value, 16, verb);
    case 'X':
      return radix(value, 16, verb).toUpperCase();
    default:
      throw celError(`could not parse formatting clause: unrecognized formatting clause "${verb}"`);
  }
}

const CLAUSE = /%(?:(%)|(?:\.([0-9]+))?([a-zA-Z]?))/g;

export function formatString(template: string, args: readonly unknown[]): string {
  let next = 0;
  return template.replace(CLAUSE, (_match, percent: string | undefined, precision: string | undefined, verb: string) => {
    if (percent !== undefined) return '%';
    if (verb === '') throw celError('could not parse formatting clause: unexpected end of string');
    if (next >= args.length) throw celError(`index ${next} out of range`);
    const value = args[next++];
    return clause(verb, precision === undefined ? undefined : Number(precision), value);
  });
}
