// Turns a validated configuration into compiled rules, or into the full list of what is wrong with it.
import { compileExpression, type CompiledExpression } from '../cel/compile.js';
import { createCelEnvironment } from '../cel/environment.js';
import { toCel } from '../cel/values.js';
import type { Config, RuleConfig } from '../config/schema.js';
import type { CompiledPolicy, CompiledRule } from './types.js';

const env = createCelEnvironment();

function knownEnvironments(config: Config): Set<string> {
  const e = config.environments;
  return new Set([...e.known, e.default, e.clusterScoped, ...e.namespacePatterns.map((p) => p.environment)]);
}

function checkRuleShape(rule: RuleConfig, path: string, known: Set<string>): string[] {
  const errors: string[] = [];
  rule.match.environments.forEach((name, i) => {
    if (name !== '*' && !known.has(name)) {
      errors.push(`${path}.match.environments[${i}]: unknown environment "${name}" (known: ${[...known].join(', ')})`);
    }
  });
  if (rule.message !== undefined && rule.messageExpression !== undefined) {
    errors.push(`${path}: set message or messageExpression, not both`);
  }
  return errors;
}

interface Target {
  path: string;
  expected: 'bool' | 'string';
  maxLength: number;
}

function compileOne(source: string, { path, expected, maxLength }: Target, errors: string[]): CompiledExpression | undefined {
  if (source.length > maxLength) {
    errors.push(`${path}: expression is ${source.length} characters long; the limit (evaluation.maxExpressionLength) is ${maxLength}`);
    return undefined;
  }
  const result = compileExpression(env, source, path, expected);
  if (result.ok) return result.expression;
  errors.push(result.error);
  return undefined;
}

function compileRule(rule: RuleConfig, path: string, config: Config, errors: string[]): CompiledRule | undefined {
  const before = errors.length;
  errors.push(...checkRuleShape(rule, path, knownEnvironments(config)));
  const max = config.evaluation.maxExpressionLength;
  const condition = compileOne(rule.expression, { path: `${path}.expression`, expected: 'bool', maxLength: max }, errors);
  const messageExpression =
    rule.messageExpression === undefined
      ? undefined
      : compileOne(rule.messageExpression, { path: `${path}.messageExpression`, expected: 'string', maxLength: max }, errors);
  if (errors.length > before || condition === undefined) return undefined;
  return messageExpression === undefined ? { config: rule, path, condition } : { config: rule, path, condition, messageExpression };
}

/**
 * Compiles the expressions of rules that failed structural validation too, so that one pass reports every
 * mistake in the file rather than the CEL errors only after the structure is fixed.
 */
export function expressionErrors(rawRules: unknown, maxLength: number): string[] {
  if (!Array.isArray(rawRules)) return [];
  const errors: string[] = [];
  rawRules.forEach((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null) return;
    const { expression, messageExpression } = raw as Record<string, unknown>;
    if (typeof expression === 'string') compileOne(expression, { path: `rules[${index}].expression`, expected: 'bool', maxLength }, errors);
    if (typeof messageExpression === 'string') {
      compileOne(messageExpression, { path: `rules[${index}].messageExpression`, expected: 'string', maxLength }, errors);
    }
  });
  return errors;
}

export type PolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: string[] };

export function compilePolicy(config: Config): PolicyResult {
  const errors: string[] = [];
  const seen = new Map<string, number>();
  const rules: CompiledRule[] = [];
  config.rules.forEach((rule, index) => {
    const path = `rules[${index}]`;
    const first = seen.get(rule.name);
    if (first !== undefined) errors.push(`${path}.name: duplicate rule name "${rule.name}" (also rules[${first}])`);
    seen.set(rule.name, index);
    const compiled = compileRule(rule, path, config, errors);
    if (compiled !== undefined) rules.push(compiled);
  });
  if (errors.length > 0) return { ok: false, errors };
  const countersign = toCel({ namespace: config.countersignNamespace, environmentLabel: config.environments.label });
  return { ok: true, policy: { config, rules, params: toCel(config.params), countersign } };
}
