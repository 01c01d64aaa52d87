// Reads a configuration document (YAML or JSON), validates all of it and compiles its rules.
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { compilePolicy, partialRuleErrors } from './compile-policy.js';
import type { CompiledPolicy } from './policy-types.js';
import { configSpec, type Config } from './schema.js';
import { check, formatErrors, refusals, type ValidationError } from './validate.js';

/** A loaded policy comes with its deprecation warnings (each `source: path: message`), to be logged by the caller. */
export type LoadResult = { ok: true; policy: CompiledPolicy; warnings: string[] } | { ok: false; errors: string[] };

export const DEFAULT_CONFIG_URL = new URL('../../policy/default.yaml', import.meta.url);

/** Parses YAML, reporting syntax errors with their line and column. */
export function parseYaml(text: string, source: string): { ok: true; value: unknown } | { ok: false; errors: string[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const at = e.linePos?.[0];
        const first = (e.message.split('\n')[0] ?? e.code).replace(/ at line \d+, column \d+:?$/, '');
        return `${source}${at === undefined ? '' : `:${at.line}:${at.col}`}: ${first}`;
      }),
    };
  }
  return { ok: true, value: doc.toJS({ maxAliasCount: 100 }) as unknown };
}

/** The parts of a structurally invalid config that the rule checks read, replaced by defaults where broken. */
function withSafeDefaults(config: Config): Config {
  const defaults = check(configSpec, {}, '', []) as Config;
  const environments = config.environments as Partial<Config['environments']> | undefined;
  const maxLength = (config as Partial<Config>).evaluation?.maxExpressionLength;
  return {
    ...defaults,
    environments: {
      ...defaults.environments,
      ...(Array.isArray(environments?.known) ? { known: environments.known.filter((k) => typeof k === 'string') } : {}),
    },
    evaluation: { ...defaults.evaluation, ...(typeof maxLength === 'number' ? { maxExpressionLength: maxLength } : {}) },
  };
}

export function loadConfigText(text: string, source: string): LoadResult {
  const parsed = parseYaml(text, source);
  if (!parsed.ok) return parsed;
  const problems: ValidationError[] = [];
  const config = check(configSpec, parsed.value, '', problems) as Config;
  const errors = refusals(problems);
  if (errors.length > 0) {
    const structural = formatErrors(errors).split('\n');
    const cel = partialRuleErrors((parsed.value as { rules?: unknown } | null)?.rules, withSafeDefaults(config));
    return { ok: false, errors: [...structural, ...cel].map((line) => `${source}: ${line}`) };
  }
  const compiled = compilePolicy(config);
  if (!compiled.ok) return { ok: false, errors: compiled.errors.map((line) => `${source}: ${line}`) };
  const warnings = problems.filter((p) => p.warning === true);
  return { ok: true, policy: compiled.policy, warnings: warnings.length === 0 ? [] : formatErrors(warnings).split('\n').map((line) => `${source}: ${line}`) };
}

export async function loadConfigFile(path: string | URL): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error: unknown) {
    return { ok: false, errors: [`${String(path)}: cannot read: ${error instanceof Error ? error.message : String(error)}`] };
  }
  return loadConfigText(text, path instanceof URL ? 'default policy' : path);
}
