// Reads Countersign's decision log (one JSON line per decision) from a harness directory.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoggedDecision {
  msg: string;
  uid: string;
  requester: string;
  /** Whether Countersign classified the requester as an agent. */
  agent: boolean;
  operation: string;
  resource: string;
  namespace: string;
  name: string;
  environment: string;
  rule: string;
  tier: string;
  decision: string;
  dryRun: boolean;
  digest?: string;
}

export function loggedDecisions(dir: string): LoggedDecision[] {
  return readFileSync(join(dir, 'countersign.log'), 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LoggedDecision)
    .filter((entry) => entry.msg === 'decision');
}
