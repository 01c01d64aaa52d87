// Kubernetes' CEL lists library (k8s.io/apiserver/pkg/cel/library/lists.go): isSorted, sum, min, max, indexOf,
// lastIndexOf. Overloads are declared per element type, as Kubernetes does, so `[{}].min()` fails type-checking.
import type { Environment } from '@marcbachmann/cel-js';
import { celEquals, compareValues } from './compare.js';
import { celError, fitsInt64 } from './errors.js';

const COMPARABLE = ['int', 'uint', 'double', 'bool', 'string', 'bytes', 'google.protobuf.Duration', 'google.protobuf.Timestamp'];

function isSorted(list: readonly unknown[]): boolean {
  for (let i = 1; i < list.length; i++) if (compareValues(list[i - 1], list[i]) > 0) return false;
  return true;
}

function extreme(name: 'min' | 'max', list: readonly unknown[]): unknown {
  if (list.length === 0) throw celError(`${name}(list) called on empty list`);
  const sign = name === 'min' ? -1 : 1;
  return list.reduce((best, item) => (compareValues(item, best) * sign > 0 ? item : best));
}

function sumInts(list: readonly bigint[]): bigint {
  let total = 0n;
  for (const item of list) {
    total += item;
    if (!fitsInt64(total)) throw celError('integer overflow');
  }
  return total;
}

function sumDoubles(list: readonly (number | bigint)[]): number {
  return list.reduce<number>((total, item) => total + Number(item), 0);
}

function indexOf(list: readonly unknown[], value: unknown): bigint {
  return BigInt(list.findIndex((item) => celEquals(item, value)));
}

function lastIndexOf(list: readonly unknown[], value: unknown): bigint {
  return BigInt(list.findLastIndex((item) => celEquals(item, value)));
}

export function registerListsLibrary(env: Environment): void {
  for (const type of COMPARABLE) {
    env.registerFunction(`list<${type}>.isSorted(): bool`, isSorted);
    env.registerFunction(`list<${type}>.min(): ${type}`, (list: unknown[]) => extreme('min', list));
    env.registerFunction(`list<${type}>.max(): ${type}`, (list: unknown[]) => extreme('max', list));
  }
  // uint and duration sums are left out: cel-js exposes no constructor for their zero values.
  env.registerFunction('list<int>.sum(): int', sumInts);
  env.registerFunction('list<double>.sum(): double', sumDoubles);
  env.registerFunction('list<A>.indexOf(A): int', indexOf);
  env.registerFunction('list<A>.lastIndexOf(A): int', lastIndexOf);
}
