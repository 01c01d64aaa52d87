// Kubernetes' CEL quantity library (k8s.io/apiserver/pkg/cel/library/quantity.go).
import type { Environment } from '@marcbachmann/cel-js';
import { celError } from './errors.js';
import { Quantity } from './quantity.js';

export function registerQuantityLibrary(env: Environment): void {
  // `fields: {}` keeps quantities opaque: CEL can call their methods but not read their internals.
  env.registerType('Quantity', { ctor: Quantity, fields: {} });
  env.registerFunction('quantity(string): Quantity', (text: string) => Quantity.parse(text));
  env.registerFunction('isQuantity(string): bool', (text: string) => Quantity.isValid(text));
  // Equality is by value, as the apiserver's Quantity.Equal: quantity('1k') == quantity('1000').
  env.registerOperator('Quantity == Quantity', (a: Quantity, b: Quantity) => a.compareTo(b) === 0);

  // Kubernetes declares sign as a global function; the documentation shows it as a method, so both work.
  env.registerFunction('sign(Quantity): int', (q: Quantity) => q.sign());
  env.registerFunction('Quantity.sign(): int', (q: Quantity) => q.sign());
  env.registerFunction('Quantity.isInteger(): bool', (q: Quantity) => q.asInt64() !== undefined);
  env.registerFunction('Quantity.asInteger(): int', (q: Quantity) => {
    const value = q.asInt64();
    if (value === undefined) throw celError('cannot convert value to integer');
    return value;
  });
  env.registerFunction('Quantity.asApproximateFloat(): double', (q: Quantity) => q.asApproximateFloat());
  env.registerFunction('Quantity.add(Quantity): Quantity', (a: Quantity, b: Quantity) => a.add(b));
  env.registerFunction('Quantity.add(int): Quantity', (a: Quantity, b: bigint) => a.add(Quantity.ofInteger(b)));
  env.registerFunction('Quantity.sub(Quantity): Quantity', (a: Quantity, b: Quantity) => a.sub(b));
  env.registerFunction('Quantity.sub(int): Quantity', (a: Quantity, b: bigint) => a.sub(Quantity.ofInteger(b)));
  env.registerFunction('Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.compareTo(b) > 0);
  env.registerFunction('Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.compareTo(b) < 0);
  env.registerFunction('Quantity.compareTo(Quantity): int', (a: Quantity, b: Quantity) => BigInt(a.compareTo(b)));
}
