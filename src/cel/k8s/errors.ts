// Library functions fail the way cel-js's own built-ins do, so callers see one kind of evaluation error.
import { EvaluationError } from '@marcbachmann/cel-js';

export function celError(message: string): EvaluationError {
  return new EvaluationError(message);
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

export function fitsInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** A CEL int as a JS number for indexing; clamped, since no string or list is anywhere near 2^53 long. */
export function toIndex(value: bigint): number {
  const limit = BigInt(Number.MAX_SAFE_INTEGER);
  return Number(value > limit ? limit : value < -limit ? -limit : value);
}
