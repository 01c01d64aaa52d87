// Equality between optionals, which CEL defines and cel-js lacks; Kubernetes' own examples rely on it
// (`c.?securityContext.?privileged != optional.of(true)`).
import type { Environment, Optional } from '@marcbachmann/cel-js';
import { celEquals } from './compare.js';

function optionalsEqual(a: Optional, b: Optional): boolean {
  if (!a.hasValue() || !b.hasValue()) return a.hasValue() === b.hasValue();
  return celEquals(a.value(), b.value());
}

export function registerOptionalEquality(env: Environment): void {
  env.registerOperator('optional<A> == optional<A>', optionalsEqual);
}
