// The ApprovalRequest Countersign writes when a rule gates an agent's action.
import type { ActionRecord } from '../core/digest.js';
import { API_GROUP, API_VERSION, requestNameFor, type ApprovalRequestObject } from './types.js';

export interface RequestFacts {
  action: ActionRecord;
  digest: string;
  groups: string[];
  approvalsRequired: number;
  signatureRequired: boolean;
  namespace: string;
  expiresAt: Date;
}

export function approvalRequestFor(facts: RequestFacts): ApprovalRequestObject {
  const { action } = facts;
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'ApprovalRequest',
    metadata: { name: requestNameFor(facts.digest), namespace: facts.namespace },
    spec: {
      digest: facts.digest,
      action: {
        operation: action.operation, group: action.group, version: action.version, resource: action.resource,
        subResource: action.subResource, namespace: action.namespace, name: action.name, uid: action.uid,
        resourceVersion: action.resourceVersion, propagationPolicy: action.propagationPolicy,
      },
      requester: { username: action.requester, groups: facts.groups },
      environment: action.environment,
      rule: action.rule,
      message: action.message,
      approvalsRequired: facts.approvalsRequired,
      signatureRequired: facts.signatureRequired,
      expiresAt: facts.expiresAt.toISOString(),
    },
    status: { phase: 'Pending' },
  };
}
