import type { CompiledExpression } from '../cel/compile.js';
import type { Config, RuleConfig } from '../config/schema.js';

export interface CompiledRule {
  config: RuleConfig;
  /** Where the rule sits in the file, for messages: `rules[3]`. */
  path: string;
  condition: CompiledExpression;
  messageExpression?: CompiledExpression;
}

/** A configuration whose every expression compiled: the only thing the decision core accepts. */
export interface CompiledPolicy {
  config: Config;
  rules: CompiledRule[];
  /** Values handed to CEL unchanged for every request, converted once at load. */
  params: unknown;
  countersign: unknown;
}
