// OpenSSH pattern-lists (ssh_config(5) PATTERNS), as used by allowed_signers for principals and
// namespaces: comma-separated wildcard patterns, "!" negates, and any negated match vetoes.
import { matchGlob } from '../kube/glob.js';

/** True when some positive pattern matches and no negated one does. */
export function matchPatternList(s: string, list: string): boolean {
  let positive = false;
  for (const entry of list.split(',')) {
    const negated = entry.startsWith('!');
    if (matchGlob(s, negated ? entry.slice(1) : entry)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}
