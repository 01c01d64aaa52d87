// Compiles and type-checks one expression, reporting errors as `path:line:column: message`.
import type { ASTNode, Environment } from '@marcbachmann/cel-js';

export interface CompiledExpression {
  source: string;
  /** False when the expression loops or runs a regex: its cost can outgrow its input, so it runs under a deadline. */
  bounded: boolean;
  evaluate(variables: Record<string, unknown>): unknown;
}

export type CompileResult = { ok: true; expression: CompiledExpression } | { ok: false; error: string };

// Calls whose cost is not bounded by the size of the expression and input alone: comprehensions loop, and regular
// expressions (matches, find, findAll) and string rewriting can take far longer than their input's length.
const UNBOUNDED_CALLS = new Set([
  'all', 'exists', 'exists_one', 'map', 'filter', 'sortBy', 'transformList', 'transformMap',
  'matches', 'find', 'findAll', 'replace', 'split', 'format',
]);

interface CelErrorShape {
  code?: string;
  summary?: string;
  message?: string;
  range?: { start: number };
}

function position(source: string, offset: number): string {
  const before = source.slice(0, Math.max(0, offset));
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return `${line}:${column}`;
}

/** Phrases the library's errors the way Kubernetes reports them, so admins recognise them. */
function describe(error: CelErrorShape): string {
  const summary = error.summary ?? error.message?.split('\n')[0] ?? 'invalid expression';
  const unknown = /^Unknown variable: (.+)$/.exec(summary);
  if (error.code === 'unknown_variable' && unknown !== null) return `undeclared reference '${unknown[1] ?? ''}'`;
  return summary;
}

function located(path: string, source: string, error: CelErrorShape): string {
  return `${path}:${position(source, error.range?.start ?? 0)}: ${describe(error)}`;
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value;
}

function containsComprehension(node: ASTNode): boolean {
  if ((node.op === 'rcall' || node.op === 'call') && UNBOUNDED_CALLS.has(node.args[0])) return true;
  const children: unknown[] = Array.isArray(node.args) ? node.args.flat(2) : [node.args];
  return children.some((child) => isNode(child) && containsComprehension(child));
}

export function compileExpression(
  env: Environment,
  source: string,
  path: string,
  expected: 'bool' | 'string',
): CompileResult {
  let program: ReturnType<Environment['parse']>;
  try {
    program = env.parse(source);
  } catch (error: unknown) {
    return { ok: false, error: located(path, source, error as CelErrorShape) };
  }
  const checked = program.check();
  if (!checked.valid) return { ok: false, error: located(path, source, checked.error as CelErrorShape) };
  if (checked.type !== expected && checked.type !== 'dyn') {
    return { ok: false, error: `${path}:1:1: must evaluate to ${expected}, but evaluates to ${checked.type}` };
  }
  return {
    ok: true,
    expression: { source, bounded: !containsComprehension(program.ast), evaluate: (variables) => program(variables) as unknown },
  };
}
