// The CEL Quantity value: exact decimal arithmetic and comparison in BigInt, never through floating point, so
// '1.5Gi' equals '1536Mi' and '100m' is below '1' exactly as the apiserver sees them.
import { celError, fitsInt64 } from './errors.js';
import { MAX_EXPONENT_SPAN, QuantityParseError, parseQuantity, type Decimal } from './quantity-parse.js';

function digitCount(magnitude: bigint): number {
  return magnitude === 0n ? 0 : magnitude.toString().length;
}

function scaleUp(value: bigint, places: number): bigint {
  if (places > MAX_EXPONENT_SPAN) throw celError('quantity arithmetic out of range');
  return value * 10n ** BigInt(places);
}

function compareDecimals(a: Decimal, b: Decimal): number {
  const signA = a.unscaled > 0n ? 1 : a.unscaled < 0n ? -1 : 0;
  const signB = b.unscaled > 0n ? 1 : b.unscaled < 0n ? -1 : 0;
  if (signA !== signB) return signA < signB ? -1 : 1;
  if (signA === 0) return 0;
  const magA = signA > 0 ? a.unscaled : -a.unscaled;
  const magB = signB > 0 ? b.unscaled : -b.unscaled;
  // Compare orders of magnitude first so '1e999999999' never materialises a billion-digit BigInt.
  const orderA = digitCount(magA) + a.exponent;
  const orderB = digitCount(magB) + b.exponent;
  let order: number;
  if (orderA !== orderB) {
    order = orderA < orderB ? -1 : 1;
  } else {
    const low = Math.min(a.exponent, b.exponent);
    const x = scaleUp(magA, a.exponent - low);
    const y = scaleUp(magB, b.exponent - low);
    order = x === y ? 0 : x < y ? -1 : 1;
  }
  return signA * order;
}

/** The apiserver's int64 addition: same scale or rescaled to the finer one, undefined on overflow. */
function addSmall(a: Decimal, b: Decimal): Decimal | undefined {
  if (b.unscaled === 0n) return a;
  if (a.unscaled === 0n) return b;
  const low = Math.min(a.exponent, b.exponent);
  if (Math.max(a.exponent, b.exponent) - low > 19) return undefined;
  const x = a.unscaled * 10n ** BigInt(a.exponent - low);
  const y = b.unscaled * 10n ** BigInt(b.exponent - low);
  if (!fitsInt64(x) || !fitsInt64(y) || !fitsInt64(x + y)) return undefined;
  return { unscaled: x + y, exponent: low, big: false };
}

function addExact(a: Decimal, b: Decimal): Decimal {
  const low = Math.min(a.exponent, b.exponent);
  const sum = scaleUp(a.unscaled, a.exponent - low) + scaleUp(b.unscaled, b.exponent - low);
  return { unscaled: sum, exponent: low, big: true };
}

function add(a: Decimal, b: Decimal): Decimal {
  return (!a.big && !b.big ? addSmall(a, b) : undefined) ?? addExact(a, b);
}

function negate(d: Decimal): Decimal {
  // The apiserver negates its int64 form with wrap-around (only -2^63 differs); mirrored rather than corrected.
  return { ...d, unscaled: d.big ? -d.unscaled : BigInt.asIntN(64, -d.unscaled) };
}

// math.Pow10 as Go computes it (two table lookups), so asApproximateFloat agrees bit for bit.
const POW10 = Array.from({ length: 32 }, (_, i) => Number(`1e${i}`));
const POW10_POS32 = Array.from({ length: 10 }, (_, i) => Number(`1e${32 * i}`));
const POW10_NEG32 = Array.from({ length: 11 }, (_, i) => Number(`1e-${32 * i}`));

function goPow10(n: number): number {
  if (n >= 0 && n <= 308) return (POW10_POS32[Math.trunc(n / 32)] ?? 0) * (POW10[n % 32] ?? 0);
  if (n < 0 && n >= -323) return (POW10_NEG32[Math.trunc(-n / 32)] ?? 0) / (POW10[-n % 32] ?? 1);
  return n > 0 ? Infinity : 0;
}

export class Quantity {
  readonly #value: Decimal;

  private constructor(value: Decimal) {
    this.#value = value;
  }

  static parse(text: string): Quantity {
    try {
      return new Quantity(parseQuantity(text));
    } catch (error: unknown) {
      if (error instanceof QuantityParseError) throw celError(error.message);
      throw error;
    }
  }

  static isValid(text: string): boolean {
    try {
      parseQuantity(text);
      return true;
    } catch {
      return false;
    }
  }

  static ofInteger(value: bigint): Quantity {
    return new Quantity({ unscaled: value, exponent: 0, big: false });
  }

  add(other: Quantity): Quantity {
    return new Quantity(add(this.#value, other.#value));
  }

  sub(other: Quantity): Quantity {
    return new Quantity(add(this.#value, negate(other.#value)));
  }

  compareTo(other: Quantity): number {
    return compareDecimals(this.#value, other.#value);
  }

  sign(): bigint {
    const { unscaled } = this.#value;
    return unscaled > 0n ? 1n : unscaled < 0n ? -1n : 0n;
  }

  /** The int64 value if the apiserver could produce one: only from its int64 form with a non-negative scale. */
  asInt64(): bigint | undefined {
    const { unscaled, exponent, big } = this.#value;
    if (big || exponent < 0) return undefined;
    if (unscaled === 0n) return 0n;
    if (exponent > 19) return undefined;
    const result = unscaled * 10n ** BigInt(exponent);
    return fitsInt64(result) ? result : undefined;
  }

  asApproximateFloat(): number {
    const { unscaled, exponent } = this.#value;
    const base = Number(unscaled);
    return exponent === 0 ? base : base * goPow10(exponent);
  }
}
