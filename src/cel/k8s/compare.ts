// Ordering and equality of CEL runtime values as the lists library needs them (sorting, min/max, indexOf).
import { celError } from './errors.js';

interface DurationLike {
  seconds: bigint;
  nanos: number;
}

function isDuration(value: unknown): value is DurationLike {
  return typeof value === 'object' && value !== null && 'seconds' in value && 'nanos' in value;
}

/** uint values are cel-js UnsignedInt objects whose valueOf() is the BigInt. */
function numeric(value: unknown): bigint | number | undefined {
  if (typeof value === 'bigint' || typeof value === 'number') return value;
  if (typeof value === 'object' && value !== null && !(value instanceof Date) && !isDuration(value)) {
    const primitive: unknown = value.valueOf();
    if (typeof primitive === 'bigint') return primitive;
  }
  return undefined;
}

function order<T extends bigint | number | string | boolean>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return order(a.length, b.length);
}

function compareSameKind(a: unknown, b: unknown): number | undefined {
  if (typeof a === 'string' && typeof b === 'string') return order(a, b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return order(a, b);
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareBytes(a, b);
  if (a instanceof Date && b instanceof Date) return order(a.getTime(), b.getTime());
  if (isDuration(a) && isDuration(b)) return order(a.seconds, b.seconds) || order(a.nanos, b.nanos);
  return undefined;
}

export function compareValues(a: unknown, b: unknown): number {
  const x = numeric(a);
  const y = numeric(b);
  if (x !== undefined && y !== undefined) return x < y ? -1 : x > y ? 1 : 0;
  const result = compareSameKind(a, b);
  if (result === undefined) throw celError('no such overload: values are not comparable');
  return result;
}

function entries(value: object): Map<unknown, unknown> {
  return value instanceof Map ? (value as Map<unknown, unknown>) : new Map(Object.entries(value));
}

function mapsEqual(a: object, b: object): boolean {
  const left = entries(a);
  const right = entries(b);
  if (left.size !== right.size) return false;
  for (const [key, value] of left) {
    if (!right.has(key) || !celEquals(value, right.get(key))) return false;
  }
  return true;
}

/** bytes, timestamps and durations: objects in JS, but compared as single values. */
function isScalarObject(value: object): boolean {
  return value instanceof Uint8Array || value instanceof Date || isDuration(value);
}

function objectsEqual(a: object, b: object): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => celEquals(v, b[i]));
  }
  if (isScalarObject(a) || isScalarObject(b)) return compareSameKind(a, b) === 0;
  if (a.constructor !== b.constructor) return false;
  const comparable = a as { compareTo?: (other: unknown) => number };
  if (typeof comparable.compareTo === 'function') return comparable.compareTo(b) === 0;
  return mapsEqual(a, b);
}

/** CEL equality: numeric across int/uint/double, structural for lists and maps, false across other types. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const x = numeric(a);
  const y = numeric(b);
  // Loose equality is what compares a BigInt with a double by value (1n == 1.0).
  if (x !== undefined || y !== undefined) return x !== undefined && y !== undefined && x == y;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return objectsEqual(a, b);
}
