// Loading policies: every error, with its path and the position inside the expression.
import { describe, expect, it } from '@jest/globals';
import { loadConfigText } from '../../../src/config/load.js';

function errorsOf(yaml: string): string[] {
  const result = loadConfigText(yaml, 'policy.yaml');
  if (result.ok) throw new Error('expected the policy to be refused');
  return result.errors;
}

describe('policy loading', () => {
  it('refuses a typo with the rule path and the position in the expression', () => {
    const errors = errorsOf(`
rules:
  - {name: a, tier: audit}
  - {name: b, tier: audit}
  - {name: c, tier: audit}
  - name: d
    tier: deny
    expression: "has(objct.spec)"
`);
    expect(errors).toEqual(["policy.yaml: rules[3].expression:1:5: undeclared reference 'objct'"]);
  });

  it('lists every error at once: structure, CEL syntax, types, names and environments', () => {
    const errors = errorsOf(`
agents: {serviceAccounts: "agents/*"}
evaluation: {budgetMilliseconds: 0}
rules:
  - name: a
    tier: denied
    expression: "object.x ==\\n  3 +"
  - name: b
    tier: audit
    expression: "environment + 1 > 2"
`);
    expect(errors).toEqual([
      'policy.yaml: agents.serviceAccounts: must be a list (got string)',
      'policy.yaml: evaluation.budgetMilliseconds: must be between 1 and 5000 (got 0)',
      'policy.yaml: rules[0].tier: must be one of allow, audit, require-approval, deny (got "denied")',
      'policy.yaml: rules[0].expression:2:6: Unexpected token: EOF',
      'policy.yaml: rules[1].expression:1:1: no such overload: string + int',
    ]);
  });

  it('reads evaluation.budgetMilliseconds as timeoutMilliseconds, with a deprecation warning, and refuses both at once', () => {
    const old = loadConfigText('evaluation: {budgetMilliseconds: 30}\n', 'policy.yaml');
    if (!old.ok) throw new Error(old.errors.join('\n'));
    expect(old.policy.config.evaluation.timeoutMilliseconds).toBe(30);
    expect(old.warnings).toEqual(['policy.yaml: evaluation.budgetMilliseconds: is deprecated: renamed to evaluation.timeoutMilliseconds (still read; rename it)']);
    const current = loadConfigText('evaluation: {timeoutMilliseconds: 30}\n', 'policy.yaml');
    expect(current.ok && current.warnings).toEqual([]);
    expect(errorsOf('evaluation: {budgetMilliseconds: 30, timeoutMilliseconds: 40}\n')).toEqual([
      'policy.yaml: evaluation.budgetMilliseconds: is the deprecated name of evaluation.timeoutMilliseconds; set only timeoutMilliseconds',
    ]);
  });

  it('reads budgets, the old name of the activity record\'s settings, as activity', () => {
    const old = loadConfigText('budgets: {retentionSeconds: 600}\n', 'policy.yaml');
    if (!old.ok) throw new Error(old.errors.join('\n'));
    expect(old.policy.config.activity.retentionSeconds).toBe(600);
    expect(old.warnings).toEqual(['policy.yaml: budgets: is deprecated: renamed to activity (still read; rename it)']);
  });

  it('refuses unknown fields, duplicate names, unknown environments and non-boolean conditions', () => {
    const errors = errorsOf(`
rules:
  - {name: a, tier: audit, expresion: "true"}
  - {name: a, tier: audit, match: {environments: [prodution]}}
  - {name: c, tier: audit, expression: "'yes'"}
`);
    expect(errors).toContain('policy.yaml: rules[0].expresion: unknown field (known: name, description, tier, match, expression, message, messageExpression, failurePolicy, approval)');
    expect(errors).toContain('policy.yaml: rules[1].name: duplicate rule name "a" (also rules[0])');
    expect(errors.some((e) => e.includes('rules[1].match.environments[0]: unknown environment "prodution"'))).toBe(true);
    expect(errors).toContain('policy.yaml: rules[2].expression:1:1: must evaluate to bool, but evaluates to string');
  });

  it('refuses match lists that could never match and service accounts without a namespace', () => {
    const errors = errorsOf(`
agents: {serviceAccounts: [agents]}
rules:
  - {name: a, tier: audit, match: {operations: [], apiGroups: [apps/v1], resources: [Deployments]}}
`);
    expect(errors).toEqual([
      'policy.yaml: agents.serviceAccounts[0]: must be namespace/name, globs allowed ("agents/*") (got "agents")',
      'policy.yaml: rules[0].match.operations: must not be empty',
      'policy.yaml: rules[0].match.apiGroups[0]: must be an API group such as "" or "apps", without a version (got "apps/v1")',
      'policy.yaml: rules[0].match.resources[0]: must be a lowercase plural resource, optionally /subresource ("deployments", "*/scale") (got "Deployments")',
    ]);
  });

  it('reports YAML syntax errors with line and column', () => {
    expect(errorsOf('rules:\n  - name: a\n   tier: deny\n')[0]).toMatch(/^policy\.yaml:3:\d+: /);
  });

  it('fills defaults: an empty document is the built-in agent and environment settings with no rules', () => {
    const result = loadConfigText('{}', 'empty.yaml');
    expect(result.ok).toBe(true);
    if (!result.ok) throw new Error(result.errors.join('\n'));
    expect(result.policy.config.agents).toEqual({ serviceAccounts: ['agents/*'], usernames: [], groups: ['countersign:agents'] });
    expect(result.policy.config.environments.label).toBe('environment');
    expect(result.policy.rules).toEqual([]);
  });

  it('refuses an expression longer than the configured limit', () => {
    const long = `${'true && '.repeat(20)}true`;
    expect(errorsOf(`evaluation: {maxExpressionLength: 50}\nrules: [{name: a, tier: audit, expression: "${long}"}]`)[0]).toMatch(
      /rules\[0\]\.expression: expression is 164 characters long; the limit \(evaluation\.maxExpressionLength\) is 50/,
    );
  });
});
