// What an identity may do that matters to Countersign: the dangerous rights (src/core/dangerous-rights.ts) it
// holds in a namespace, asked of the apiserver by SubjectAccessReview. The edge asks it for the identity a workload
// will run as and for the agent itself; the pure core compares the two. Throws when it cannot tell (fail closed).

/** Who is asked about: a ServiceAccount's user name and groups, or an agent's as the apiserver authenticated it. */
export interface Identity {
  username: string;
  groups: readonly string[];
}

export interface IdentityPower {
  /** The names of the dangerous rights `identity` holds in `namespace` ('' for cluster-scoped only), sorted. */
  rightsOf(identity: Identity, namespace: string): Promise<readonly string[]>;
}
