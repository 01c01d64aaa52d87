// The configuration's types are derived from its schema: these assignments fail to compile if the derivation loses a
// field, a literal union or an optional marker. The test runs the TypeScript compiler on this file (jest itself only
// strips types), and on a copy with one wrong equality, to show the check can fail.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import type { Config, RuleConfig } from '../../../src/config/schema.js';

// The exact-equality idiom: two generic signatures are identical only if A and B are.
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
const DERIVED: true[] = [
  true satisfies Equal<Config['evaluation']['timeoutMilliseconds'], number>,
  true satisfies Equal<RuleConfig['match']['scope'], 'Cluster' | 'Namespaced' | '*'>,
  true satisfies Equal<RuleConfig['description'], string | undefined>,
  true satisfies Equal<Config['rules'], RuleConfig[]>,
  true satisfies Equal<Config['agents']['serviceAccounts'], string[]>,
  true satisfies Equal<RuleConfig['tier'], 'allow' | 'audit' | 'require-approval' | 'deny'>,
  true satisfies Equal<Config['params'], Record<string, unknown>>,
  true satisfies Equal<keyof RuleConfig, 'name' | 'description' | 'tier' | 'match' | 'expression' | 'message' | 'messageExpression' | 'failurePolicy' | 'approval'>,
  true satisfies Equal<Config['environments']['namespacePatterns'], { environment: string; names: string[] }[]>,
];

const THIS_FILE = fileURLToPath(import.meta.url);
const ROOT = join(dirname(THIS_FILE), '..', '..', '..');

/** The compiler's errors for this file under the project's tsconfig.json, with `text` in place of its content if given. */
function compileErrors(text?: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
  if (config === undefined) throw new Error('tsconfig.json could not be read');
  const host = ts.createCompilerHost(config.options);
  if (text !== undefined) {
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (name, language, ...rest) => (name === THIS_FILE ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest));
  }
  const program = ts.createProgram([THIS_FILE], config.options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => `${d.file?.fileName ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

describe('the configuration types', () => {
  it('are derived from the schema, as the compiler checks them', () => {
    expect(DERIVED).toHaveLength(9);
    expect(compileErrors()).toEqual([]);
  }, 60_000);

  it('would fail to compile if a derived type were wrong', () => {
    const source = readFileSync(THIS_FILE, 'utf8');
    const wrong = source.replace("Equal<Config['rules'], RuleConfig[]>", "Equal<Config['rules'], RuleConfig[] | undefined>");
    expect(wrong).not.toBe(source);
    expect(compileErrors(wrong)).toEqual([expect.stringMatching(/config-types\.test\.ts: Type 'true' does not satisfy the expected type 'false'/)]);
  }, 60_000);
});
