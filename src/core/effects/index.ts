// The effects model: what an agent's request will cause, worked out from the request, the cluster picture and the
// identities the edge looked up. Pure. Exposed to CEL as `effects`; see docs/effects.md.
import type { AdmissionRequest, UserInfo } from '../../kube/types.js';
import type { PictureView } from '../picture-view/picture-index.js';
import { cascadeNeedsPicture, describeImpact, NO_IMPACT, type Impact } from '../impact.js';
import { actsAs, type IdentityFacts } from './acts-as.js';
import { weakensGuard } from './guard.js';
import { restartsPods, stopsPods } from './pods.js';
import { removalsNeedPicture, removes } from './removes.js';
import { runsCode } from './runs-code.js';
import { cutsTraffic } from './traffic.js';
import { NO_IDENTITY, NO_PODS, NOT_FLAGGED, type Effects } from './types.js';

export type { Effects } from './types.js';
export { connectsToPod, workloadAccounts, type IdentityFacts, type WorkloadAccount } from './acts-as.js';

/** True when the request's effects can only be known from the cluster picture. */
export function needsPicture(request: AdmissionRequest): boolean {
  return cascadeNeedsPicture(request) || removalsNeedPicture(request);
}

export interface EffectsInput {
  /** The request's cascade (blastRadius): what a DELETE, or ownerReferences pointed nowhere, removes. */
  cascade: Impact;
  /** The cluster picture; required when needsPicture(request). */
  view: PictureView | undefined;
  countersignNamespace: string;
  /** Whether an identity is an agent's (the policy's agent matcher). */
  isAgent: (identity: UserInfo) => boolean;
  /** The identities involved, when the request runs a workload as one (workloadAccounts). */
  identities?: IdentityFacts;
}

function summaryOf(effects: Omit<Effects, 'summary'>): string {
  const parts: string[] = [];
  if (effects.removes.total > 0) parts.push(`removes ${describeImpact(effects.removes)}`);
  const pods = (verb: string, p: Effects['stopsPods']): void => {
    if (p.unbounded || p.count > 0) parts.push(`${verb} ${p.unbounded ? 'an unknown number of' : String(p.count)} pods`);
  };
  pods('stops', effects.stopsPods);
  pods('restarts', effects.restartsPods);
  if (effects.cutsTraffic.any) parts.push('cuts traffic');
  if (effects.runsCode.any) parts.push(effects.runsCode.onNode ? 'runs code with node powers' : 'runs code');
  if (effects.actsAs.any) parts.push(`runs as ${effects.actsAs.identity}${effects.actsAs.gains.length > 0 ? ` (gaining ${effects.actsAs.gains.join(', ')})` : ''}`);
  if (effects.weakensGuard.any) parts.push('weakens the guard');
  if (effects.changesImage) parts.push('changes an image tag');
  return parts.join('; ');
}

export function computeEffects(request: AdmissionRequest, input: EffectsInput): Effects {
  if (input.view === undefined && needsPicture(request)) throw new Error('computeEffects: this request needs the cluster picture');
  const code = runsCode(request, input.identities?.connectedPodSpec);
  const effects = {
    removes: removes(request, input.cascade, input.view),
    stopsPods: stopsPods(request),
    restartsPods: restartsPods(request),
    cutsTraffic: cutsTraffic(request),
    runsCode: { any: code.any, onNode: code.onNode, causes: code.causes },
    actsAs: actsAs(input.identities, input.isAgent),
    weakensGuard: weakensGuard(request, input.countersignNamespace),
    changesImage: code.changesImage,
  };
  return { ...effects, summary: summaryOf(effects) };
}

/** Every cause of every effect, for a refusal message: `removes ...; runs code: ...`. */
export function effectCauses(effects: Effects): string[] {
  return [
    ...effects.removes.causes, ...effects.stopsPods.causes, ...effects.restartsPods.causes, ...effects.cutsTraffic.causes,
    ...effects.runsCode.causes, ...effects.weakensGuard.causes,
  ];
}

/** What a request that causes nothing causes: the value rules see when effects were not asked for. */
export const NO_EFFECTS: Effects = Object.freeze({
  removes: { ...NO_IMPACT, causes: [] }, stopsPods: NO_PODS, restartsPods: NO_PODS, cutsTraffic: NOT_FLAGGED,
  runsCode: { any: false, onNode: false, causes: [] }, actsAs: NO_IDENTITY, weakensGuard: NOT_FLAGGED, changesImage: false, summary: '',
});
