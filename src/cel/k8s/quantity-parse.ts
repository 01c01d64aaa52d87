// Parses Kubernetes quantity strings with the same acceptance rules, rounding and representation choices as
// k8s.io/apimachinery resource.ParseQuantity, because isInteger()/asInteger() expose which representation
// the apiserver picked (its int64 fast path or its arbitrary-precision fallback), not just the value.
import { INT64_MAX, fitsInt64 } from './errors.js';

export const FORMAT_ERROR =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const SUFFIX_ERROR = "unable to parse quantity's suffix";
export const NUMERIC_ERROR = 'unable to parse numeric part of quantity';

/** value = unscaled × 10^exponent; `big` marks the apiserver's arbitrary-precision form, which it never converts to int64. */
export interface Decimal {
  unscaled: bigint;
  exponent: number;
  big: boolean;
}

export class QuantityParseError extends Error {}

// Powers of ten beyond this would make BigInt arithmetic run away (the apiserver itself would grind on them).
export const MAX_EXPONENT_SPAN = 10_000;

interface Scanned {
  negative: boolean;
  value: string;
  num: string;
  denom: string;
  suffix: string;
}

const DIGIT = /^[0-9]$/;
const SUFFIX_CHARS = 'eEinumkKMGTP';

function digitsFrom(str: string, start: number): number {
  let pos = start;
  while (pos < str.length && DIGIT.test(str.charAt(pos))) pos++;
  return pos;
}

function scan(str: string): Scanned {
  let pos = 0;
  const negative = str.startsWith('-');
  if (negative || str.startsWith('+')) pos = 1;
  while (pos < str.length && str.charAt(pos) === '0') pos++;
  if (pos >= str.length) return { negative, value: '0', num: '0', denom: '', suffix: '' };

  let end = digitsFrom(str, pos);
  const num = str.slice(pos, end) || '0';
  pos = end;
  let denom = '';
  if (str.charAt(pos) === '.') {
    end = digitsFrom(str, pos + 1);
    denom = str.slice(pos + 1, end);
    pos = end;
  }
  const value = str.slice(0, pos);
  if (pos >= str.length) return { negative, value, num, denom, suffix: '' };

  const suffixStart = pos;
  while (pos < str.length && SUFFIX_CHARS.includes(str.charAt(pos))) pos++;
  if (str.charAt(pos) === '-' || str.charAt(pos) === '+') pos++;
  if (digitsFrom(str, pos) < str.length) throw new QuantityParseError(FORMAT_ERROR);
  return { negative, value, num, denom, suffix: str.slice(suffixStart) };
}

type Format = 'decimal' | 'binary';

const DECIMAL_SUFFIXES: Record<string, number> = { '': 0, n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const INT64_TEXT = /^[+-]?[0-9]+$/;
const INT32_MAX = 2n ** 31n - 1n;

function interpret(suffix: string): { format: Format; exponent: number } {
  const decimal = DECIMAL_SUFFIXES[suffix];
  if (decimal !== undefined) return { format: 'decimal', exponent: decimal };
  const binary = BINARY_SUFFIXES[suffix];
  if (binary !== undefined) return { format: 'binary', exponent: binary };
  const digits = suffix.slice(1);
  if (suffix.length > 1 && (suffix.startsWith('e') || suffix.startsWith('E')) && INT64_TEXT.test(digits)) {
    const parsed = BigInt(digits);
    // Current apimachinery rejects exponents outside ±(2^31-1) (older releases silently wrapped them to int32).
    if (parsed <= INT32_MAX && parsed >= -INT32_MAX) return { format: 'decimal', exponent: Number(parsed) };
  }
  throw new QuantityParseError(SUFFIX_ERROR);
}

/** The int64 fast path: taken whenever the digits fit comfortably, with at most nano precision. */
function fastPath(scanned: Scanned, format: Format, exponent: number): Decimal | undefined {
  const { num, denom } = scanned;
  let precision: number;
  let scale = 0;
  let mantissa = 1n;
  if (format === 'decimal') {
    scale = exponent;
    precision = 18 - (num.length + denom.length);
  } else if (denom === '') {
    mantissa = 1n << BigInt(exponent);
    precision = 15 - num.length - Math.trunc((exponent * 3) / 10) - 1;
  } else {
    precision = -1;
  }
  if (precision < 0) return undefined;
  scale -= denom.length;
  if (scale < -9) return undefined;
  const result = BigInt(num + denom) * mantissa;
  if (!fitsInt64(result)) return undefined;
  return { unscaled: scanned.negative ? -result : result, exponent: scale, big: false };
}

function roundUpToNano(magnitude: bigint, exponent: number): bigint {
  if (exponent >= -9) {
    if (exponent + 9 > MAX_EXPONENT_SPAN) throw new QuantityParseError(NUMERIC_ERROR);
    return magnitude * 10n ** BigInt(exponent + 9);
  }
  const drop = -9 - exponent;
  // Anything non-zero below a nano rounds up to exactly one nano.
  if (drop > magnitude.toString().length) return 1n;
  const divisor = 10n ** BigInt(drop);
  return (magnitude + divisor - 1n) / divisor;
}

/** The arbitrary-precision path: exact, then rounded away from zero to nano precision, binary values capped at int64. */
function slowPath(scanned: Scanned, format: Format, exponent: number): Decimal {
  const [whole = '', fraction = ''] = scanned.value.replace(/^[+-]/, '').split('.');
  if (whole === '' && fraction === '') throw new QuantityParseError(NUMERIC_ERROR);
  let magnitude = BigInt(whole + fraction || '0');
  let exp = -fraction.length;
  if (format === 'decimal') exp += exponent;
  else magnitude <<= BigInt(exponent);
  if (magnitude !== 0n) {
    magnitude = roundUpToNano(magnitude, exp);
    exp = -9;
  }
  if (format === 'binary' && magnitude > INT64_MAX * 10n ** BigInt(-exp)) {
    magnitude = INT64_MAX;
    exp = 0;
  }
  return { unscaled: scanned.negative ? -magnitude : magnitude, exponent: exp, big: true };
}

export function parseQuantity(str: string): Decimal {
  if (str.length === 0) throw new QuantityParseError(FORMAT_ERROR);
  if (str === '0') return { unscaled: 0n, exponent: 0, big: false };
  const scanned = scan(str);
  const { format, exponent } = interpret(scanned.suffix);
  return fastPath(scanned, format, exponent) ?? slowPath(scanned, format, exponent);
}
