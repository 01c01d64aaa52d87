// What the core answers, and the few ways to build one: allowed, denied by a rule or a check, or refused because
// Countersign could not judge (fail closed). Every path of the webhook answers with one of these builders.
import type { ApprovalRequirement, Tier } from '../config/schema.js';
import type { Impact } from './impact.js';
import type { ActionRecord } from './digest.js';
import type { Requester } from './requester.js';

export interface Decision {
  allowed: boolean;
  /** `allow` for requests no rule gated, including every non-agent request. */
  tier: Tier;
  /** The deciding rule, `default` when no rule fired, `non-agent` when the requester is not an agent. */
  rule: string;
  environment: string;
  requester: Requester;
  dryRun: boolean;
  status?: { code: number; reason: string; message: string };
  warnings: string[];
  auditAnnotations: Record<string, string>;
  digest?: string;
  /** For require-approval: what a human must approve, and how many humans, signed or not. */
  approval?: { action: ActionRecord; requirement: ApprovalRequirement };
  /** The blast radius, when it was computed (a rule asked for it, or an approval must be bound to it). */
  impact?: Impact;
  /** Every rule that fired, for the record. */
  fired: { rule: string; tier: Tier; error?: string }[];
  /** True when Countersign itself failed and refused the request because of it. */
  errored: boolean;
}

/** Who asked, where, and the rule that decides: what every decision starts from. */
export interface DecisionBase {
  requester: Requester;
  environment: string;
  dryRun: boolean;
  rule: string;
}

/** Allowed with nothing to say (a non-agent's request, an approval resource that passed its checks). */
export function allowedDecision(base: DecisionBase, auditAnnotations: Record<string, string> = {}, errored = false): Decision {
  return { ...base, allowed: true, tier: 'allow', warnings: [], auditAnnotations, fired: [], errored };
}

/** Refused by a check that judged the request (403): the message says why. */
export function deniedDecision(base: DecisionBase, message: string): Decision {
  return {
    ...base, allowed: false, tier: 'deny', warnings: [], auditAnnotations: { decision: 'denied' }, fired: [], errored: false,
    status: { code: 403, reason: 'Forbidden', message },
  };
}

/** Countersign could not judge an agent's request: refuse it explicitly (fail closed), saying why. */
export function refusedOnError(base: DecisionBase, reason: string): Decision {
  return {
    ...base,
    allowed: false,
    tier: 'deny',
    warnings: [],
    auditAnnotations: { decision: 'denied', rule: base.rule, error: reason },
    fired: [],
    errored: true,
    status: { code: 500, reason: 'InternalError', message: `Countersign could not judge this request, so it is refused: ${reason}` },
  };
}
