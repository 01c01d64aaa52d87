// Cuts traffic: pods stay up but stop being reached. A Service's selector or ports changed, a NetworkPolicy that
// can deny everything, a Pod relabelled out of its Services (and its ReplicaSet, which starts another), endpoints
// and ingress routes rewritten by hand.
import type { AdmissionRequest } from '../../kube/types.js';
import { field } from '../picture-view/entry.js';
import { sameJson } from './json-compare.js';
import { CauseList, type Flagged } from './types.js';

interface Change {
  request: AdmissionRequest;
  /** `namespace/name` */
  name: string;
  update: boolean;
  changed: (...path: string[]) => boolean;
}

type TrafficCheck = (change: Change) => (string | undefined)[];

/** By `group/resource`: what a CREATE or UPDATE of it does to traffic. */
const CHECKS: Readonly<Record<string, TrafficCheck>> = {
  '/services': ({ name, update, changed }) => [
    update && changed('spec', 'selector') ? `changes the selector of Service ${name}: the pods it reached are cut off` : undefined,
    update && changed('spec', 'ports') ? `changes the ports of Service ${name}` : undefined,
    update && changed('spec', 'type') ? `changes the type of Service ${name}` : undefined,
    changed('spec', 'externalName') ? `points Service ${name} at another host name` : undefined,
    changed('spec', 'externalIPs') ? `sets external IPs on Service ${name}: nodes capture traffic to them` : undefined,
    update && (changed('spec', 'internalTrafficPolicy') || changed('spec', 'externalTrafficPolicy')) ? `changes the traffic policy of Service ${name}` : undefined,
  ],
  'networking.k8s.io/networkpolicies': ({ name, update }) => [`${update ? 'changes' : 'creates'} NetworkPolicy ${name}, which can deny traffic to the pods it selects`],
  '/pods': ({ name, update, changed }) => [update && changed('metadata', 'labels') ? `relabels pod ${name}: Services and its controller may stop selecting it` : undefined],
  '/endpoints': ({ name, update }) => [`${update ? 'rewrites' : 'creates'} endpoints ${name} by hand`],
  'discovery.k8s.io/endpointslices': ({ name, update }) => [`${update ? 'rewrites' : 'creates'} endpointslices ${name} by hand`],
  'networking.k8s.io/ingresses': ({ name, update, changed }) => [!update || changed('spec') ? `${update ? 'changes' : 'adds'} routes of Ingress ${name}` : undefined],
  'gateway.networking.k8s.io/httproutes': ({ name, update, changed }) => [!update || changed('spec') ? `${update ? 'changes' : 'adds'} HTTPRoute ${name}` : undefined],
  'policy.networking.k8s.io/adminnetworkpolicies': ({ name }) => [`writes AdminNetworkPolicy ${name}, which can deny traffic cluster-wide`],
  'policy.networking.k8s.io/baselineadminnetworkpolicies': ({ name }) => [`writes BaselineAdminNetworkPolicy ${name}, which can deny traffic cluster-wide`],
};

export function cutsTraffic(request: AdmissionRequest): Flagged {
  const causes = new CauseList();
  const check = CHECKS[`${request.resource.group}/${request.resource.resource}`];
  if (check === undefined || (request.subResource ?? '') !== '' || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) {
    return causes.flagged();
  }
  const change: Change = {
    request, name: `${request.namespace ?? ''}/${request.name ?? ''}`, update: request.operation === 'UPDATE',
    changed: (...path) => !sameJson(field(request.oldObject, ...path), field(request.object, ...path)),
  };
  for (const cause of check(change)) if (cause !== undefined) causes.add(cause);
  return causes.flagged();
}
