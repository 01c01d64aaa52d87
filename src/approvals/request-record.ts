// The ApprovalRequest Countersign writes when a rule gates an agent's action.
import type { ActionRecord } from '../core/digest.js';
import { API_GROUP, API_VERSION, REQUESTER_LABEL, requestNameFor, requesterLabelValue, type ApprovalRequestObject } from './types.js';

import type { ChangeSummary } from './change-summary.js';
import { present } from '../kube/present.js';

export interface RequestFacts {
  action: ActionRecord;
  digest: string;
  groups: string[];
  approvalsRequired: number;
  signatureRequired: boolean;
  namespace: string;
  expiresAt: Date;
  change?: ChangeSummary;
  requesterOwner?: string;
}

export function approvalRequestFor(facts: RequestFacts): ApprovalRequestObject {
  const { requester, environment, rule, message, impact, ...target } = facts.action;
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'ApprovalRequest',
    metadata: {
      name: requestNameFor(facts.digest),
      namespace: facts.namespace,
      labels: { [REQUESTER_LABEL]: requesterLabelValue(requester) },
    },
    spec: {
      digest: facts.digest,
      action: target,
      requester: { username: requester, groups: facts.groups },
      ...present({ requesterOwner: facts.requesterOwner }),
      environment,
      rule,
      message,
      ...(impact === undefined ? {} : { impact: { ...impact } }),
      ...present({ change: facts.change }),
      approvalsRequired: facts.approvalsRequired,
      signatureRequired: facts.signatureRequired,
      expiresAt: facts.expiresAt.toISOString(),
    },
    status: { phase: 'Pending' },
  };
}
