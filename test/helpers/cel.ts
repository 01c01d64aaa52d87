// Evaluates and type-checks expressions in Countersign's own CEL environment, as the policy compiler does.
import { createCelEnvironment } from '../../src/cel/environment.js';
import { toCel } from '../../src/cel/values.js';

const env = createCelEnvironment();

/** Evaluates `expression` with `object` bound (converted like a request's object). */
export const run = (expression: string, object: unknown = {}): unknown => env.evaluate(expression, { object: toCel(object) }) as unknown;
export const typeOf = (expression: string): string | undefined => env.check(expression).type;
export const rejects = (expression: string): boolean => !env.check(expression).valid;
