// The configuration file's shape: who the agents are, how namespaces map to environments, the rules, and the
// evaluation time limit. One document, validated in full before anything serves; defaults live here and nowhere else.
import { OPERATIONS } from '../kube/types.js';
import type { FromSpec, Spec } from './validate.js';

import { TIERS } from './tiers.js';

export { TIERS, type Tier } from './tiers.js';

const DAY = 24 * 3600;

const stringList = <const D extends readonly string[]>(defaults: D) => ({ kind: 'list', of: { kind: 'string', nonEmpty: true }, default: defaults }) as const;

const ruleSpec = {
  kind: 'object',
  required: ['name', 'tier'],
  fields: {
    name: { kind: 'string', nonEmpty: true },
    description: { kind: 'string' },
    tier: { kind: 'string', oneOf: TIERS },
    match: {
      kind: 'object',
      fields: {
        operations: { kind: 'list', of: { kind: 'string', oneOf: [...OPERATIONS, '*'] }, default: ['*'], nonEmpty: true },
        apiGroups: { kind: 'list', of: { kind: 'string', pattern: /^(\*|[a-z0-9.-]*)$/, patternHelp: 'an API group such as "" or "apps", without a version' }, default: ['*'], nonEmpty: true },
        resources: { kind: 'list', of: { kind: 'string', pattern: /^(\*|[a-z0-9.-]+)(\/(\*|[a-z0-9.-]+))?$/, patternHelp: 'a lowercase plural resource, optionally /subresource ("deployments", "*/scale")' }, default: ['*'], nonEmpty: true },
        environments: { kind: 'list', of: { kind: 'string', nonEmpty: true }, default: ['*'], nonEmpty: true },
        scope: { kind: 'string', oneOf: ['Cluster', 'Namespaced', '*'], default: '*' },
      },
    },
    expression: { kind: 'string', nonEmpty: true, default: 'true' },
    message: { kind: 'string' },
    messageExpression: { kind: 'string' },
    failurePolicy: { kind: 'string', oneOf: ['Fail', 'Ignore'], default: 'Fail' },
    approval: {
      kind: 'object',
      fields: {
        approvers: { kind: 'int', min: 1, max: 5, default: 1 },
        signature: { kind: 'bool', default: false },
      },
    },
  },
} as const satisfies Spec;

export const configSpec = {
  kind: 'object',
  // The per-agent record is the activity record; budgets are the rules' limits over it.
  renamed: { budgets: 'activity' },
  fields: {
    apiVersion: { kind: 'string', oneOf: ['countersign.dev/v1alpha1'], default: 'countersign.dev/v1alpha1' },
    kind: { kind: 'string', oneOf: ['CountersignConfig'], default: 'CountersignConfig' },
    countersignNamespace: { kind: 'string', nonEmpty: true, default: 'countersign' },
    agents: {
      kind: 'object',
      fields: {
        serviceAccounts: { kind: 'list', of: { kind: 'string', pattern: /^[^/]+\/[^/]+$/, patternHelp: 'namespace/name, globs allowed ("agents/*")' }, default: ['agents/*'] },
        usernames: stringList([]),
        groups: stringList(['countersign:agents']),
      },
    },
    environments: {
      kind: 'object',
      fields: {
        label: { kind: 'string', nonEmpty: true, default: 'environment' },
        known: stringList(['production', 'staging', 'development']),
        default: { kind: 'string', nonEmpty: true, default: 'development' },
        clusterScoped: { kind: 'string', nonEmpty: true, default: 'production' },
        unknownLabel: { kind: 'string', nonEmpty: true, default: 'production' },
        namespacePatterns: {
          kind: 'list',
          default: [],
          of: {
            kind: 'object',
            required: ['environment', 'names'],
            fields: { environment: { kind: 'string', nonEmpty: true }, names: { kind: 'list', of: { kind: 'string', nonEmpty: true }, nonEmpty: true } },
          },
        },
      },
    },
    evaluation: {
      kind: 'object',
      // "budget" names the bulk limits over an agent's activity; this is a time limit on one evaluation.
      renamed: { budgetMilliseconds: 'timeoutMilliseconds' },
      fields: {
        timeoutMilliseconds: { kind: 'int', min: 1, max: 5000, default: 200 },
        maxExpressionLength: { kind: 'int', min: 1, max: 100_000, default: 5000 },
      },
    },
    approvals: {
      kind: 'object',
      fields: {
        serviceAccount: { kind: 'string', nonEmpty: true, default: 'countersign' },
        requestTtlSeconds: { kind: 'int', min: 60, max: 7 * 24 * 3600, default: 3600 },
        maxApprovalTtlSeconds: { kind: 'int', min: 60, max: 24 * 3600, default: 1800 },
        maxPendingPerRequester: { kind: 'int', min: 1, max: 1000, default: 20 },
        allowedSignersSecret: { kind: 'string', nonEmpty: true, default: 'countersign-allowed-signers' },
        signatureNamespace: { kind: 'string', nonEmpty: true, default: 'countersign.dev' },
      },
    },
    picture: {
      kind: 'object',
      fields: {
        exclude: stringList(['events', 'events.events.k8s.io', 'leases.coordination.k8s.io']),
        idleRestartSeconds: { kind: 'int', min: 10, max: 3600, default: 70 },
        staleAfterSeconds: { kind: 'int', min: 15, max: 3600, default: 120 },
        rediscoverySeconds: { kind: 'int', min: 5, max: 3600, default: 30 },
      },
    },
    activity: {
      kind: 'object',
      fields: { retentionSeconds: { kind: 'int', min: 60, max: 24 * 3600, default: 3600 } },
    },
    tls: {
      kind: 'object',
      fields: {
        caValiditySeconds: { kind: 'int', min: 30, max: 10 * 365 * DAY, default: 365 * DAY },
        certValiditySeconds: { kind: 'int', min: 10, max: 365 * DAY, default: 30 * DAY },
        propagationSeconds: { kind: 'int', min: 2, max: DAY, default: 120 },
        checkIntervalSeconds: { kind: 'int', min: 1, max: 3600, default: 30 },
      },
    },
    metrics: {
      kind: 'object',
      fields: { approvalsRefreshSeconds: { kind: 'int', min: 1, max: 3600, default: 15 } },
    },
    params: { kind: 'map', of: { kind: 'any' }, default: {} },
    rules: { kind: 'list', of: ruleSpec, default: [] },
  },
} as const satisfies Spec;

/** The validated configuration: every default filled in. Derived from the schema, so the two cannot drift. */
export type Config = FromSpec<typeof configSpec>;
export type RuleConfig = FromSpec<typeof ruleSpec>;
export type RuleMatch = RuleConfig['match'];
/** Distinct humans (by username and by signing key) who must approve, and whether each signs with an SSH key. */
export type ApprovalRequirement = RuleConfig['approval'];
export type NamespacePattern = Config['environments']['namespacePatterns'][number];
