// Runs the matched rules' CEL conditions. Rules without comprehensions are linear in the input and run directly;
// if any rule can loop, all of them run inside one deadline, so a pathological policy cannot hold a request.
import { DeadlineExceeded, runWithDeadline } from '../cel/guards.js';
import { fromCel } from '../cel/values.js';
import type { CompiledRule } from '../config/policy-types.js';

export interface RuleOutcome {
  rule: CompiledRule;
  /** The condition held (or failed to evaluate under failurePolicy Fail). */
  fired: boolean;
  error?: string;
  message?: string;
}

export class RuleTimeout extends Error {
  constructor(readonly rule: CompiledRule, readonly timeoutMs: number) {
    super(`policy evaluation exceeded its timeout of ${timeoutMs} ms in rule "${rule.config.name}" (${rule.path})`);
    this.name = 'RuleTimeout';
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
}

function evaluateOne(rule: CompiledRule, variables: Record<string, unknown>): RuleOutcome {
  try {
    const value = rule.condition.evaluate(variables);
    if (typeof value !== 'boolean') {
      throw new Error(`${rule.path}.expression evaluated to ${typeof value}, not bool`);
    }
    return { rule, fired: value };
  } catch (error: unknown) {
    if (error instanceof DeadlineExceeded) throw error;
    const text = `${rule.path}.expression: ${errorText(error)}`;
    return { rule, fired: rule.config.failurePolicy === 'Fail', error: text };
  }
}

function messageOf(rule: CompiledRule, variables: Record<string, unknown>): string | undefined {
  if (rule.messageExpression === undefined) return rule.config.message;
  try {
    const value = fromCel(rule.messageExpression.evaluate(variables));
    if (typeof value === 'string' && value.trim() !== '') return value;
  } catch (error: unknown) {
    if (error instanceof DeadlineExceeded) throw error;
  }
  // Kubernetes falls back to `message` when messageExpression fails; we fall back to the default description.
  return rule.config.message;
}

export function evaluateRules(rules: readonly CompiledRule[], variables: Record<string, unknown>, timeoutMs: number): RuleOutcome[] {
  let current: CompiledRule | undefined;
  const runAll = (): RuleOutcome[] =>
    rules.map((rule) => {
      current = rule;
      const outcome = evaluateOne(rule, variables);
      if (!outcome.fired) return outcome;
      const message = messageOf(rule, variables);
      return message === undefined ? outcome : { ...outcome, message };
    });
  if (rules.every((rule) => rule.condition.bounded && rule.messageExpression?.bounded !== false)) return runAll();
  try {
    return runWithDeadline(runAll, timeoutMs);
  } catch (error: unknown) {
    if (error instanceof DeadlineExceeded && current !== undefined) throw new RuleTimeout(current, timeoutMs);
    throw error;
  }
}
