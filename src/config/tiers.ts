// What each tier of a rule means, in one table: how severe it is against the others, whether the request goes
// through, whether a human can let it through, and how Countersign words it to the agent and in a dry run.
export const TIERS = ['allow', 'audit', 'require-approval', 'deny'] as const;
export type Tier = (typeof TIERS)[number];

export interface TierMeaning {
  /** The most severe tier among the rules that fired decides. */
  severity: number;
  /** The request goes through (with a warning for audit). */
  allowed: boolean;
  /** Refused until enough humans approve: the approval gate takes over. */
  gated: boolean;
  /** What the agent reads; `digest` is the approval request's, for gated tiers. */
  wording: (rule: string, message: string, digest: string) => string;
  /** "dry run: Countersign would …". */
  dryRun: string;
}

const audit = (rule: string, message: string): string => `Countersign audit (rule ${rule}): ${message}`;

export const TIER: Readonly<Record<Tier, TierMeaning>> = {
  allow: { severity: 0, allowed: true, gated: false, wording: audit, dryRun: 'allow this request' },
  audit: { severity: 1, allowed: true, gated: false, wording: audit, dryRun: 'allow this request and record it for audit' },
  'require-approval': {
    severity: 2, allowed: false, gated: true,
    wording: (rule, message, digest) => `Countersign requires a human approval for this request (rule ${rule}): ${message}. Request digest: ${digest}.`,
    dryRun: 'refuse this request until a human approves it',
  },
  deny: {
    severity: 3, allowed: false, gated: false,
    wording: (rule, message) => `Countersign denied this request (rule ${rule}): ${message}`,
    dryRun: 'deny this request',
  },
};
