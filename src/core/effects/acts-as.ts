// Acts as another identity: the ServiceAccount a created or changed workload runs as. The edge asks the apiserver
// what that identity and the agent may do (src/cluster/identity-power.ts); the comparison is made here.
import type { AdmissionRequest, UserInfo } from '../../kube/types.js';
import { DANGEROUS_RIGHTS } from '../dangerous-rights.js';
import { serviceAccountIdentity } from '../requester.js';

const CLUSTER_RIGHTS: ReadonlySet<string> = new Set(DANGEROUS_RIGHTS.filter((r) => !r.namespaced).map((r) => r.name));
import { changedPodSpecs } from './runs-code.js';
import { serviceAccountOf } from './pod-specs.js';
import { NO_IDENTITY, type ActsAs } from './types.js';

export interface WorkloadAccount {
  namespace: string;
  name: string;
}

/**
 * Every ServiceAccount a request makes code run as (a custom resource may embed several pod specs); none when it
 * starts or changes no workload. A changed template runs the change as its identity, changed or not.
 */
export function workloadAccounts(request: AdmissionRequest): WorkloadAccount[] {
  const namespace = request.namespace ?? '';
  if (namespace === '') return [];
  const names = [...new Set(changedPodSpecs(request).filter((c) => !c.metadataOnly).map((change) => serviceAccountOf(change.after)))].sort();
  return names.map((name) => ({ namespace, name }));
}

/** A shell or tunnel into a pod: its code then runs with that pod's identity, which only the pod itself names. */
export function connectsToPod(request: AdmissionRequest): boolean {
  return request.operation === 'CONNECT' && request.resource.group === '' && request.resource.resource === 'pods' &&
    ['exec', 'attach', 'portforward'].includes(request.subResource ?? '');
}

/** What the edge learned about the identities involved: their dangerous rights, by SubjectAccessReview. */
export interface IdentityFacts {
  /** Per workload ServiceAccount (workloadAccounts): its dangerous rights. */
  workloads: (WorkloadAccount & { rights: readonly string[]; clusterWide?: readonly string[] })[];
  /** For a shell into a pod (connectsToPod): the pod's spec, read by the edge, so node powers it holds are seen. */
  connectedPodSpec?: Record<string, unknown>;
  /** The requesting agent's own dangerous rights in the same namespace. */
  agentRights: readonly string[];
}

/** The strongest of the workload identities: the one that gains most over the agent, non-agents first. */
export function actsAs(facts: IdentityFacts | undefined, isAgent: (identity: UserInfo) => boolean): ActsAs {
  if (facts === undefined || facts.workloads.length === 0) return NO_IDENTITY;
  const agent = new Set(facts.agentRights);
  const judged: ActsAs[] = facts.workloads.map((w) => {
    const identity = serviceAccountIdentity(w.namespace, w.name);
    return {
      any: true, identity: identity.username, isAgent: isAgent(identity), rights: [...w.rights].sort(),
      gains: w.rights.filter((r) => !agent.has(r)).sort(),
      // Rights granted in every namespace (asked with no namespace), else the cluster-scoped ones among its rights.
      clusterRights: [...(w.clusterWide ?? w.rights.filter((r) => CLUSTER_RIGHTS.has(r)))].sort(),
    };
  });
  judged.sort((a, b) => b.gains.length - a.gains.length || Number(a.isAgent) - Number(b.isAgent) || b.rights.length - a.rights.length);
  return judged[0] ?? NO_IDENTITY;
}
