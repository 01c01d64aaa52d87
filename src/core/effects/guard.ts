// Weakens the guard: anything that would take Countersign's powers away or route requests around it. Its own
// namespace, CRDs and RBAC, the admission objects that call it, APIServices (which reroute whole API groups), and the
// flow-control objects that can starve its API calls. Agents are denied these outright, whoever would approve.
import type { AdmissionRequest } from '../../kube/types.js';
import { field, text } from '../picture-view/entry.js';
import { CauseList, type Flagged } from './types.js';

/** The label the chart and manifests put on everything Countersign installs. */
export const COUNTERSIGN_LABEL = { key: 'app.kubernetes.io/name', value: 'countersign' } as const;

const RBAC = new Set(['roles', 'clusterroles', 'rolebindings', 'clusterrolebindings']);

function labelled(object: unknown): boolean {
  return text(field(object, 'metadata', 'labels', COUNTERSIGN_LABEL.key)) === COUNTERSIGN_LABEL.value;
}

/** A binding whose subjects include a ServiceAccount of Countersign's namespace: Countersign's own rights. */
function bindsCountersign(object: unknown, countersignNamespace: string): boolean {
  const subjects = field(object, 'subjects');
  return Array.isArray(subjects) && subjects.some((s: unknown) =>
    text(field(s, 'kind')) === 'ServiceAccount' && text(field(s, 'namespace')) === countersignNamespace);
}

type GuardCheck = (request: AdmissionRequest, countersignNamespace: string) => string | undefined;

const name = (request: AdmissionRequest): string => request.name ?? '';

/** Each check names what the request would do to the guard, or nothing. */
const CHECKS: readonly GuardCheck[] = [
  (r, ns) => (r.namespace === ns ? `changes ${r.resource.resource} ${name(r)} in Countersign's namespace ${ns}` : undefined),
  (r, ns) => (r.resource.group === '' && r.resource.resource === 'namespaces' && name(r) === ns ? `changes Countersign's namespace ${ns}` : undefined),
  (r) => (r.resource.group === 'apiextensions.k8s.io' && r.resource.resource === 'customresourcedefinitions' && name(r).endsWith('.countersign.dev')
    ? `changes Countersign's CustomResourceDefinition ${name(r)}` : undefined),
  (r, ns) => {
    if (r.resource.group !== 'rbac.authorization.k8s.io' || !RBAC.has(r.resource.resource) || r.operation === 'CREATE') return undefined;
    const own = labelled(r.oldObject) || labelled(r.object) || bindsCountersign(r.oldObject, ns);
    return own ? `${r.operation === 'DELETE' ? 'deletes' : 'changes'} Countersign's own ${r.resource.resource} ${name(r)}` : undefined;
  },
  (r) => (r.resource.group === 'admissionregistration.k8s.io' ? `changes admission configuration ${r.resource.resource} ${name(r)}` : undefined),
  (r) => (r.resource.group === 'apiregistration.k8s.io' ? `changes APIService ${name(r)}, which reroutes an API group past admission` : undefined),
  (r) => (r.resource.group === 'flowcontrol.apiserver.k8s.io'
    ? `changes API priority and fairness (${r.resource.resource} ${name(r)}), which can starve Countersign's API calls` : undefined),
];

export function weakensGuard(request: AdmissionRequest, countersignNamespace: string): Flagged {
  const causes = new CauseList();
  // CONNECT too: a shell in Countersign's own pods is the guard in an agent's hands.
  for (const check of CHECKS) {
    const cause = check(request, countersignNamespace);
    if (cause !== undefined) causes.add(cause);
  }
  return causes.flagged();
}
