// The configuration's types are derived from its schema: these assignments fail to compile (npm run lint) if the
// derivation loses a field, a literal union or an optional marker.
import { expect, it } from '@jest/globals';
import type { Config, RuleConfig } from '../../../src/config/schema.js';
// The exact-equality idiom: two generic signatures are identical only if A and B are.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const a: Equal<Config['evaluation']['timeoutMilliseconds'], number> = true;
const b: Equal<RuleConfig['match']['scope'], 'Cluster' | 'Namespaced' | '*'> = true;
const c: Equal<RuleConfig['description'], string | undefined> = true;
const d: Equal<Config['rules'], RuleConfig[]> = true;
const e: Equal<Config['agents']['serviceAccounts'], string[]> = true;
const f: Equal<RuleConfig['tier'], 'allow' | 'audit' | 'require-approval' | 'deny'> = true;
const g: Equal<Config['params'], Record<string, unknown>> = true;
const h: Equal<keyof RuleConfig, 'name' | 'description' | 'tier' | 'match' | 'expression' | 'message' | 'messageExpression' | 'failurePolicy' | 'approval'> = true;
const i: Equal<Config['environments']['namespacePatterns'], { environment: string; names: string[] }[]> = true;
it('derives the configuration types from the schema', () => {
  expect([a, b, c, d, e, f, g, h, i].every(Boolean)).toBe(true);
});
