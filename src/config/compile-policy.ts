// Turns a validated configuration into compiled rules, or into the full list of what is wrong with it.
import { compileExpression, type CompiledExpression } from '../cel/compile.js';
import { CEL_VARIABLE_NAMES, createCelEnvironment, type CelVariable } from '../cel/environment.js';
import { toCel } from '../cel/values.js';
import type { Config, RuleConfig } from './schema.js';
import type { CompiledPolicy, CompiledRule } from './policy-types.js';
import { present } from '../kube/present.js';

const env = createCelEnvironment();

// Over-matching (the word inside a string literal) only costs a computation; under-matching cannot happen.
const BUDGET_CALL = /\.(deletes|changes|capacityRemoved)\s*\(/;

/** Which operations each bulk counter is recorded for: a budget rule matching others would judge with no count. */
const COUNTER_OPERATIONS: Record<string, readonly string[]> = {
  deletes: ['DELETE'], changes: ['CREATE', 'UPDATE', 'DELETE'], capacityRemoved: ['UPDATE'],
};

function budgetOperationErrors(sources: string, operations: readonly string[], path: string): string[] {
  const errors: string[] = [];
  for (const [counter, allowed] of Object.entries(COUNTER_OPERATIONS)) {
    if (!new RegExp(`\\.${counter}\\s*\\(`).test(sources)) continue;
    if (operations.some((op) => !allowed.includes(op))) {
      errors.push(`${path}.match.operations: a rule that reads agent.${counter}(...) must match operations among [${allowed.join(', ')}] only (it is counted for those)`);
    }
  }
  return errors;
}

function knownEnvironments(config: Config): Set<string> {
  const e = config.environments;
  return new Set([...e.known, e.default, e.clusterScoped, ...e.namespacePatterns.map((p) => p.environment)]);
}

function environmentErrors(environments: readonly string[], path: string, known: Set<string>): string[] {
  const errors: string[] = [];
  environments.forEach((name, i) => {
    if (name !== '*' && !known.has(name)) {
      errors.push(`${path}.match.environments[${i}]: unknown environment "${name}" (known: ${[...known].join(', ')})`);
    }
  });
  return errors;
}

function checkRuleShape(rule: RuleConfig, path: string, known: Set<string>): string[] {
  const errors = environmentErrors(rule.match.environments, path, known);
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

/**
 * The CEL variables a rule's expressions name, found by word in their text: a name inside a string or a field
 * counts too, so the set may hold more than the rule reads but never less. Only these are converted for it.
 */
function readsOf(sources: string): ReadonlySet<CelVariable> {
  return new Set(CEL_VARIABLE_NAMES.filter((name) => new RegExp(`\\b${name}\\b`).test(sources)));
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
  const sources = `${rule.expression}\n${rule.messageExpression ?? ''}`;
  const uses = {
    reads: readsOf(sources),
    usesImpact: /\bblastRadius\b/.test(sources), usesBudget: BUDGET_CALL.test(sources),
    usesEffects: /\beffects\b/.test(sources), usesIdentity: /\bactsAs\b/.test(sources),
  };
  if (uses.usesBudget) errors.push(...budgetOperationErrors(sources, rule.match.operations, path));
  if (errors.length > before || condition === undefined) return undefined;
  return { config: rule, path, condition, ...present({ messageExpression }), ...uses };
}

function stringsOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/**
 * The checks of compilePolicy over rules that failed structural validation, on whatever fields are well-formed,
 * so that one pass reports every mistake in the file rather than the rest only after the structure is fixed.
 */
export function partialRuleErrors(rawRules: unknown, config: Config): string[] {
  if (!Array.isArray(rawRules)) return [];
  const errors: string[] = [];
  const names = new Map<string, number>();
  const known = knownEnvironments(config);
  const maxLength = config.evaluation.maxExpressionLength;
  rawRules.forEach((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null) return;
    const path = `rules[${index}]`;
    const { name, match, expression, messageExpression } = raw as Record<string, unknown>;
    if (typeof name === 'string') errors.push(...duplicateName(name, index, names));
    const environments = stringsOf((match as Record<string, unknown> | undefined)?.environments);
    errors.push(...environmentErrors(environments, path, known));
    if (typeof expression === 'string') compileOne(expression, { path: `${path}.expression`, expected: 'bool', maxLength }, errors);
    if (typeof messageExpression === 'string') {
      compileOne(messageExpression, { path: `${path}.messageExpression`, expected: 'string', maxLength }, errors);
    }
  });
  return errors;
}

function duplicateName(name: string, index: number, seen: Map<string, number>): string[] {
  const first = seen.get(name);
  if (first === undefined) seen.set(name, index);
  return first === undefined ? [] : [`rules[${index}].name: duplicate rule name "${name}" (also rules[${first}])`];
}

export type PolicyResult = { ok: true; policy: CompiledPolicy } | { ok: false; errors: string[] };

/** Settings that are each valid alone but not together. */
function crossFieldErrors(config: Config): string[] {
  const errors: string[] = [];
  const { idleRestartSeconds, staleAfterSeconds } = config.picture;
  // A quiet resource gets no bookmarks: the idle reconnect is what keeps it from going stale.
  if (idleRestartSeconds >= staleAfterSeconds) {
    errors.push(`picture.idleRestartSeconds: ${String(idleRestartSeconds)} must be less than picture.staleAfterSeconds (${String(staleAfterSeconds)})`);
  }
  const { caValiditySeconds, certValiditySeconds, propagationSeconds, checkIntervalSeconds } = config.tls;
  // Every replica must look at the Secret between two rotation steps, with a pass to spare for one that fails.
  if (2 * checkIntervalSeconds > propagationSeconds) {
    errors.push(`tls.checkIntervalSeconds: ${String(checkIntervalSeconds)} must be at most half of tls.propagationSeconds (${String(propagationSeconds)})`);
  }
  // A CA is replaced in its last third, in two propagation steps; a serving certificate renewed in its last third
  // must still fit before the old CA is gone, or it would be reissued on every pass.
  if (certValiditySeconds / 3 + 2 * propagationSeconds >= caValiditySeconds / 3) {
    errors.push(`tls.caValiditySeconds: ${String(caValiditySeconds)} is too short for tls.certValiditySeconds ${String(certValiditySeconds)} and tls.propagationSeconds ${String(propagationSeconds)} (need certValiditySeconds/3 + 2 * propagationSeconds < caValiditySeconds/3)`);
  }
  return errors;
}

export function compilePolicy(config: Config): PolicyResult {
  const errors: string[] = crossFieldErrors(config);
  const seen = new Map<string, number>();
  const rules: CompiledRule[] = [];
  config.rules.forEach((rule, index) => {
    const path = `rules[${index}]`;
    errors.push(...duplicateName(rule.name, index, seen));
    const compiled = compileRule(rule, path, config, errors);
    if (compiled !== undefined) rules.push(compiled);
  });
  if (errors.length > 0) return { ok: false, errors };
  const countersign = toCel({ namespace: config.countersignNamespace, environmentLabel: config.environments.label });
  const usesBudgets = rules.some((rule) => rule.usesBudget);
  const usesIdentity = rules.some((rule) => rule.usesIdentity);
  return { ok: true, policy: { config, rules, params: toCel(config.params), countersign, usesBudgets, usesIdentity } };
}
