import type { CompiledExpression } from '../cel/compile.js';
import type { CelVariable } from '../cel/environment.js';
import type { Config, RuleConfig } from './schema.js';

export interface CompiledRule {
  config: RuleConfig;
  /** Where the rule sits in the file, for messages: `rules[3]`. */
  path: string;
  condition: CompiledExpression;
  messageExpression?: CompiledExpression;
  /** The CEL variables its expressions may read: the others are not converted for it. */
  reads: ReadonlySet<CelVariable>;
  /** The rule reads `blastRadius`: the request's impact must be computed first. */
  usesImpact: boolean;
  /** The rule reads an agent's bulk budget (`agent.deletes(...)`). */
  usesBudget: boolean;
  /** The rule reads `effects`: they are worked out first (from the picture when the request needs it). */
  usesEffects: boolean;
  /** The rule reads `effects.actsAs`: a workload's identity must have been checked by SubjectAccessReview. */
  usesIdentity: boolean;
}

/** A configuration whose every expression compiled: the only thing the decision core accepts. */
export interface CompiledPolicy {
  config: Config;
  rules: CompiledRule[];
  /** Values handed to CEL unchanged for every request, converted once at load. */
  params: unknown;
  countersign: unknown;
  /** Some rule reads bulk budgets: agents' deletes are recorded, and read before each DELETE is judged. */
  usesBudgets: boolean;
  /** Some rule reads `effects.actsAs`: the edge checks workload identities by SubjectAccessReview. */
  usesIdentity: boolean;
}
