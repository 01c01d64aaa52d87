// What an agent's request will cause, as the policy sees it (`effects` in CEL). Each class carries its causes in
// words, so a refusal can say why, and counts where a count means something.
import type { Impact } from '../impact.js';

export interface Causes {
  /** One phrase per cause: `claim data-db-2 deleted by the StatefulSet's retention policy`. */
  causes: string[];
}

/** Objects and data that go away: a DELETE's cascade, and what controllers remove because of an UPDATE. */
export type Removes = Impact & Causes;

export interface PodsEffect extends Causes {
  count: number;
  /** The request alone cannot bound the number (a Node taint, a new autoscaler): treat it as many. */
  unbounded: boolean;
}

export interface Flagged extends Causes {
  any: boolean;
}

export interface RunsCode extends Flagged {
  /** The code runs with the node's powers (privileged, host namespaces, hostPath, the kubelet's proxy). */
  onNode: boolean;
}

export interface ActsAs {
  /** The request makes a workload run as an identity. */
  any: boolean;
  /** `system:serviceaccount:NS:NAME`, '' when any is false. */
  identity: string;
  /** The identity is an agent's, so Countersign judges what it does; otherwise it acts out of sight. */
  isAgent: boolean;
  /** The dangerous rights the identity holds (src/core/dangerous-rights.ts names). */
  rights: string[];
  /** Those the requesting agent itself lacks: privilege escalation by workload. */
  gains: string[];
  /** Those that reach beyond the workload's namespace (cluster-scoped, or asked cluster-wide). */
  clusterRights: string[];
}

export interface Effects {
  removes: Removes;
  stopsPods: PodsEffect;
  restartsPods: PodsEffect;
  cutsTraffic: Flagged;
  runsCode: RunsCode;
  actsAs: ActsAs;
  weakensGuard: Flagged;
  /** A new tag or digest of the same image repository: a release, not new code of the agent's choosing. */
  changesImage: boolean;
  /** One line naming every effect, '' when there is none. */
  summary: string;
}

export const NO_PODS: PodsEffect = Object.freeze({ count: 0, unbounded: false, causes: [] });
export const NOT_FLAGGED: Flagged = Object.freeze({ any: false, causes: [] });
export const NO_IDENTITY: ActsAs = Object.freeze({ any: false, identity: '', isAgent: false, rights: [], gains: [], clusterRights: [] });

/** Accumulates the causes of one effect class. */
export class CauseList {
  readonly causes: string[] = [];

  add(cause: string): void {
    if (!this.causes.includes(cause)) this.causes.push(cause);
  }

  flagged(): Flagged {
    return { any: this.causes.length > 0, causes: this.causes };
  }
}
