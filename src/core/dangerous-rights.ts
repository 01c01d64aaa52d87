// The rights that make an identity dangerous to act as: what Countersign asks the apiserver (by SubjectAccessReview)
// about a workload's ServiceAccount and about the agent that creates the workload. Pure data, no I/O.
//
// How the list was chosen: each right either destroys a lot at once (a namespace, a volume's data, a workload, every
// object of a CRD), or reads or mints credentials, or lets its holder become someone else or grant itself more, or
// turns Countersign off. A workload running as an identity holding one of these lets an agent do it by proxy.
// Rights that only matter with another one (create rolebindings without bind or escalate is limited by RBAC's own
// escalation check to what the creator holds) are left out. `name` is stable: policies and approval messages quote it.
import { serviceAccountIdentity } from './requester.js';

export interface DangerousRight {
  /** English and stable: `VERB RESOURCE[/SUBRESOURCE][.GROUP]`, e.g. `delete deployments.apps`. */
  name: string;
  verb: string;
  /** The API group, '' for the core group. */
  group: string;
  resource: string;
  subresource?: string;
  /** False for cluster-scoped resources (and rights asked cluster-wide): the review carries no namespace. */
  namespaced: boolean;
  why: string;
}

export const DANGEROUS_RIGHTS: readonly DangerousRight[] = [
  {
    name: 'delete namespaces', verb: 'delete', group: '', resource: 'namespaces', namespaced: false,
    why: 'deletes every object in a namespace at once, volumes\' claims included',
  },
  {
    name: 'delete persistentvolumeclaims', verb: 'delete', group: '', resource: 'persistentvolumeclaims', namespaced: true,
    why: 'with the usual Delete reclaim policy the volume and its data go with the claim',
  },
  {
    name: 'delete persistentvolumes', verb: 'delete', group: '', resource: 'persistentvolumes', namespaced: false,
    why: 'removes a volume, and with it the data, whoever claims it',
  },
  {
    name: 'delete deployments.apps', verb: 'delete', group: 'apps', resource: 'deployments', namespaced: true,
    why: 'takes a service down: its ReplicaSets and Pods are garbage-collected',
  },
  {
    name: 'delete statefulsets.apps', verb: 'delete', group: 'apps', resource: 'statefulsets', namespaced: true,
    why: 'takes a stateful service (often a database) down',
  },
  {
    name: 'delete customresourcedefinitions.apiextensions.k8s.io', verb: 'delete', group: 'apiextensions.k8s.io',
    resource: 'customresourcedefinitions', namespaced: false,
    why: 'deletes every object of that kind in every namespace',
  },
  {
    name: 'create pods/exec', verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespaced: true,
    why: 'runs any command inside running containers: their files, tokens and data, past any admission check',
  },
  {
    name: 'get secrets', verb: 'get', group: '', resource: 'secrets', namespaced: true,
    why: 'reads credentials, ServiceAccount tokens and keys included',
  },
  {
    name: 'create pods', verb: 'create', group: '', resource: 'pods', namespaced: true,
    why: 'a pod may run as any ServiceAccount of its namespace and mount any Secret: all their rights, transitively',
  },
  {
    name: 'create serviceaccounts/token', verb: 'create', group: '', resource: 'serviceaccounts', subresource: 'token',
    namespaced: true,
    why: 'mints a token for any ServiceAccount of the namespace and so acts as it',
  },
  {
    name: 'impersonate users', verb: 'impersonate', group: '', resource: 'users', namespaced: false,
    why: 'acts as any user, an administrator included',
  },
  {
    // RBAC checks bind on the ClusterRole a RoleBinding or ClusterRoleBinding names; asked cluster-wide here so a
    // ClusterRoleBinding (cluster-wide grant) counts.
    name: 'bind clusterroles.rbac.authorization.k8s.io', verb: 'bind', group: 'rbac.authorization.k8s.io',
    resource: 'clusterroles', namespaced: false,
    why: 'grants any ClusterRole (cluster-admin included) to anyone, itself included',
  },
  {
    name: 'escalate clusterroles.rbac.authorization.k8s.io', verb: 'escalate', group: 'rbac.authorization.k8s.io',
    resource: 'clusterroles', namespaced: false,
    why: 'writes roles holding rights its holder lacks: any right, by a role it then binds',
  },
  {
    name: 'delete validatingwebhookconfigurations.admissionregistration.k8s.io', verb: 'delete',
    group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', namespaced: false,
    why: 'turns admission webhooks, Countersign among them, off',
  },
  {
    name: 'patch nodes', verb: 'patch', group: '', resource: 'nodes', namespaced: false,
    why: 'taints or relabels nodes: evicts workloads, or steers them onto a node its holder controls',
  },
  // Added after the attacker's review: rights that do as much harm without deleting anything.
  {
    name: 'deletecollection persistentvolumeclaims', verb: 'deletecollection', group: '', resource: 'persistentvolumeclaims', namespaced: true,
    why: 'deletes every claim of a namespace in one call (a verb apart from delete)',
  },
  {
    name: 'deletecollection pods', verb: 'deletecollection', group: '', resource: 'pods', namespaced: true,
    why: 'stops every pod of a namespace in one call',
  },
  {
    name: 'update deployments.apps', verb: 'update', group: 'apps', resource: 'deployments', namespaced: true,
    why: 'changes what a service runs, or scales it to nothing',
  },
  {
    name: 'patch deployments/scale.apps', verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', namespaced: true,
    why: 'scales a service to nothing',
  },
  {
    name: 'patch statefulsets/scale.apps', verb: 'patch', group: 'apps', resource: 'statefulsets', subresource: 'scale', namespaced: true,
    why: 'scales a database down, and with a Delete retention policy its claims go',
  },
  {
    name: 'create deployments.apps', verb: 'create', group: 'apps', resource: 'deployments', namespaced: true,
    why: 'runs pods by proxy, as any ServiceAccount of the namespace',
  },
  {
    name: 'create jobs.batch', verb: 'create', group: 'batch', resource: 'jobs', namespaced: true,
    why: 'runs pods by proxy, as any ServiceAccount of the namespace',
  },
  {
    name: 'patch persistentvolumes', verb: 'patch', group: '', resource: 'persistentvolumes', namespaced: false,
    why: 'sets a volume\'s reclaim policy to Delete or releases it from its claim',
  },
  {
    name: 'update namespaces/finalize', verb: 'update', group: '', resource: 'namespaces', subresource: 'finalize', namespaced: false,
    why: 'completes a namespace deletion early, past its finalizers',
  },
  {
    name: 'patch validatingwebhookconfigurations.admissionregistration.k8s.io', verb: 'patch',
    group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations', namespaced: false,
    why: 'rewrites admission webhooks, Countersign among them (a static guard matches agents only)',
  },
  {
    name: 'create validatingadmissionpolicies.admissionregistration.k8s.io', verb: 'create',
    group: 'admissionregistration.k8s.io', resource: 'validatingadmissionpolicies', namespaced: false,
    why: 'adds admission policies that can deny anyone anything, or lock a cluster',
  },
  {
    name: 'get nodes/proxy', verb: 'get', group: '', resource: 'nodes', subresource: 'proxy', namespaced: false,
    why: 'reaches every kubelet: runs commands in any pod on any node',
  },
  // Added after the second review: other verbs and kinds with the same reach.
  {
    name: 'patch namespaces', verb: 'patch', group: '', resource: 'namespaces', namespaced: false,
    why: 'relabels a namespace out of production: every production rule stops applying to it',
  },
  {
    name: 'patch deployments.apps', verb: 'patch', group: 'apps', resource: 'deployments', namespaced: true,
    why: 'changes what a service runs, or scales it to nothing',
  },
  {
    name: 'patch statefulsets.apps', verb: 'patch', group: 'apps', resource: 'statefulsets', namespaced: true,
    why: 'changes what a database runs, its claims\' retention, or its ordinals',
  },
  {
    name: 'patch daemonsets.apps', verb: 'patch', group: 'apps', resource: 'daemonsets', namespaced: true,
    why: 'changes what runs on every node',
  },
  {
    name: 'create daemonsets.apps', verb: 'create', group: 'apps', resource: 'daemonsets', namespaced: true,
    why: 'runs pods on every node, as any ServiceAccount of the namespace',
  },
  {
    name: 'create cronjobs.batch', verb: 'create', group: 'batch', resource: 'cronjobs', namespaced: true,
    why: 'runs pods by proxy, on a schedule',
  },
  {
    name: 'patch pods/ephemeralcontainers', verb: 'patch', group: '', resource: 'pods', subresource: 'ephemeralcontainers', namespaced: true,
    why: 'adds a debug container to a running pod: its identity and volumes',
  },
  {
    name: 'impersonate serviceaccounts', verb: 'impersonate', group: '', resource: 'serviceaccounts', namespaced: true,
    why: 'acts as any ServiceAccount of the namespace',
  },
  {
    name: 'impersonate groups', verb: 'impersonate', group: '', resource: 'groups', namespaced: false,
    why: 'acts as a member of any group, system:masters included',
  },
  {
    name: 'bind roles.rbac.authorization.k8s.io', verb: 'bind', group: 'rbac.authorization.k8s.io', resource: 'roles', namespaced: true,
    why: 'grants any Role of the namespace to anyone',
  },
  {
    name: 'patch mutatingwebhookconfigurations.admissionregistration.k8s.io', verb: 'patch',
    group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', namespaced: false,
    why: 'rewrites every object as it is written, past any validating webhook',
  },
  {
    name: 'create approvals.countersign.dev', verb: 'create', group: 'countersign.dev', resource: 'approvals', namespaced: true,
    why: 'records approvals: an approver by proxy',
  },
];

/** The identity the apiserver gives a ServiceAccount's token: `system:serviceaccount:NS:NAME` and its groups. */
export function serviceAccountUser(namespace: string, name: string): { username: string; groups: readonly string[] } {
  return serviceAccountIdentity(namespace, name);
}
