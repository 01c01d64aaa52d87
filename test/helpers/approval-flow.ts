// The approval flow's moving parts for unit tests: the agent's attempt through the gate, a human's Approval, and
// its admission, all over the in-memory store. An Approval reaches the store the way it does in production: through
// Countersign's admission of its own resources (approve), or through the plugin's `kubectl countersign approve`
// (answer), whose create goes through that same admission.
import type { AdmissionRequest } from '../../src/kube/types.js';
import { admitOwnResource } from '../../src/approvals/admit-own-resources.js';
import { checkApprovalGate, type GateDeps } from '../../src/approvals/approval-gate.js';
import type { Config } from '../../src/config/schema.js';
import { signatureVerifier } from '../../src/approvals/signatures.js';
import type { ApprovalObject, ApprovalSpec } from '../../src/approvals/types.js';
import type { Decision, Judge } from '../../src/core/decide.js';
import { auditTrail, type AuditTrail } from '../../src/audit/trail.js';
import { createLogger } from '../../src/observability/logger.js';
import { answerRequest, type DecideOptions } from '../../src/plugin/answer-request.js';
import type { PluginClient } from '../../src/plugin/client.js';
import { heldOutReview, namespaceNamed, offline } from './fixtures.js';
import type { MemoryStore } from './memory-store.js';

export const NOW = new Date('2026-11-21T10:00:00Z');
export const minutes = (n: number): string => new Date(NOW.getTime() + n * 60_000).toISOString();

/** Where the unit tests' audit lines go when a test does not look at them. */
const SILENT_TRAIL = auditTrail(createLogger('silent'), { replica: 'unit', nonce: 'unit' });

export function deps(store: MemoryStore, now = NOW, audit: AuditTrail = SILENT_TRAIL): GateDeps {
  return { store, verifySignature: signatureVerifier('countersign.dev', () => now), now: () => now, audit };
}

/**
 * The approval gate as the edge runs it (src/webhook/handle-review.ts): checkApprovalGate, then the approvals or
 * quota unit it found used on fresh reads (with no budget stage in between here).
 */
export async function gate(request: AdmissionRequest, decision: Decision, config: Config, gateDeps: GateDeps): Promise<Decision> {
  const checked = await checkApprovalGate(request, decision, config, gateDeps);
  return 'use' in checked ? checked.use() : checked;
}

/** An agent's request decided by the core (offline facts, the held-out namespaces) and put through the gate. */
export async function attempt(judge: Judge, store: MemoryStore, request: AdmissionRequest, now = NOW): Promise<Decision> {
  const namespace = namespaceNamed(request.namespace ?? '');
  const decision = judge.decide(namespace === undefined ? { request, ...offline(request) } : { request, namespace, ...offline(request) });
  return gate(request, decision, judge.policy.config, deps(store, now));
}

export interface Gated {
  review: AdmissionRequest;
  about: { requestName: string; digest: string };
}

/** The agent's first attempt at a fixture's action, recorded as a pending request in the store. */
export async function gated(judge: Judge, store: MemoryStore, fixture = 'agent-delete-production-deployment'): Promise<Gated> {
  const review = heldOutReview(fixture).request;
  await attempt(judge, store, review);
  const request = [...store.requests.values()][0];
  if (request === undefined) throw new Error(`${fixture}: the gate recorded no approval request`);
  return { review, about: { requestName: request.metadata.name, digest: request.spec.digest } };
}

/** An Approval object as a human would write it (sre-a approving for 10 minutes unless `spec` says otherwise). */
export function approval(name: string, spec: Partial<ApprovalSpec> & Pick<ApprovalSpec, 'requestName' | 'digest'>): ApprovalObject {
  return {
    apiVersion: 'countersign.dev/v1alpha1', kind: 'Approval',
    metadata: { name, namespace: 'countersign' },
    spec: { decision: 'Approve', approver: 'sre-a', reason: 'planned maintenance', expiresAt: minutes(10), ...spec },
  };
}

export function creating(object: ApprovalObject, username: string): AdmissionRequest {
  return {
    uid: 'a1', kind: { group: 'countersign.dev', version: 'v1alpha1', kind: 'Approval' },
    resource: { group: 'countersign.dev', version: 'v1alpha1', resource: 'approvals' },
    namespace: 'countersign', name: object.metadata.name, operation: 'CREATE',
    userInfo: { username, groups: username.startsWith('system:serviceaccount:agents:') ? ['system:serviceaccounts'] : ['sre'] },
    object: object as unknown as AdmissionRequest['object'],
  };
}

/** Who creates an Approval, and when (the approver named in it, at NOW, unless given). */
export interface By {
  user?: string;
  now?: Date;
}

/** Countersign's admission of `by.user` creating `object` (the approvals webhook: admitOwnResource, checkApproval). */
function admission(judge: Judge, store: MemoryStore, object: ApprovalObject, by: By): Promise<{ allowed: boolean; message?: string; note?: string }> {
  const request = creating(object, by.user ?? object.spec.approver);
  return admitOwnResource(request, judge.policy.config, { ...deps(store, by.now ?? NOW), isAgent: (r) => judge.isAgent(r) });
}

/** Countersign's verdict on `user` creating `object` at NOW; nothing is stored. */
export async function admit(judge: Judge, store: MemoryStore, object: ApprovalObject, user: string): Promise<{ allowed: boolean; message?: string; note?: string }> {
  return admission(judge, store, object, { user });
}

/**
 * `user` creates `object` as the apiserver would take it: Countersign's admission judges it, and only an admitted
 * Approval is stored (with a resourceVersion). Throws with the webhook's message when admission refuses it, so a
 * test cannot go on with an Approval production would never have stored. Returns the Approval as stored.
 */
export async function approve(judge: Judge, store: MemoryStore, object: ApprovalObject, by: By = {}): Promise<ApprovalObject> {
  const verdict = await admission(judge, store, object, by);
  if (!verdict.allowed) throw new Error(`the apiserver would not store Approval ${object.metadata.name}: ${verdict.message ?? ''}`);
  store.add(object);
  const stored = store.approvals.get(object.metadata.name);
  if (stored === undefined) throw new Error(`Approval ${object.metadata.name} was admitted but not stored`);
  return stored;
}

/** The plugin's view of the in-memory store as `me`: its createApproval goes through approve() (admission, then the store). */
export function pluginClient(judge: Judge, store: MemoryStore, me: string, now = NOW): PluginClient {
  return {
    whoami: () => Promise.resolve(me),
    listRequests: () => Promise.resolve([...store.requests.values()]),
    getRequest: (name) => {
      const found = store.requests.get(name);
      return found === undefined ? Promise.reject(new Error(`approvalrequests.countersign.dev "${name}" not found`)) : Promise.resolve(found);
    },
    listApprovals: () => Promise.resolve([...store.approvals.values()]),
    createApproval: async (object) => { await approve(judge, store, object, { user: me, now }); },
  };
}

/** What the human answers (`request`: the ApprovalRequest's name; approve for 10 minutes unless said otherwise), and when. */
export type Answer = Partial<Omit<DecideOptions, 'name' | 'signatureNamespace' | 'countersignNamespace'>> & { request: string; now?: Date };

/**
 * `kubectl countersign approve NAME` (or reject) by `me`: the plugin's answerRequest, its Approval admitted by
 * Countersign and stored. Returns the one Approval it stored.
 */
export async function answer(judge: Judge, store: MemoryStore, me: string, what: Answer): Promise<ApprovalObject> {
  const before = new Set(store.approvals.keys());
  const { request, now = NOW, ...options } = what;
  await answerRequest(pluginClient(judge, store, me, now), {
    name: request, decision: 'Approve', reason: 'planned maintenance', ttlSeconds: 600, ...options,
    signatureNamespace: 'countersign.dev', countersignNamespace: judge.policy.config.countersignNamespace,
  }, now);
  const added = [...store.approvals.values()].filter((a) => !before.has(a.metadata.name));
  if (added.length !== 1) throw new Error(`kubectl countersign by ${me} stored ${String(added.length)} Approvals, not 1`);
  return added[0]!;
}
