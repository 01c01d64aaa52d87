// OpenSSH pattern-lists (ssh_config(5) PATTERNS), as used by allowed_signers for principals and
// namespaces: comma-separated wildcard patterns, "!" negates, and any negated match vetoes.

/**
 * Wildcard match with "*" (any run) and "?" (one character), case-sensitive. Greedy with a single
 * backtrack point, so hostile patterns cost O(len(s) * len(p)) rather than exponential time.
 */
export function matchPattern(s: string, pattern: string): boolean {
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < s.length) {
    const pc = pattern[pi];
    if (pc === '*') {
      starP = pi++;
      starS = si;
    } else if (pc !== undefined && (pc === '?' || pc === s[si])) {
      pi++;
      si++;
    } else if (starP >= 0) {
      pi = starP + 1;
      si = ++starS;
    } else {
      return false;
    }
  }
  while (pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

/** True when some positive pattern matches and no negated one does. */
export function matchPatternList(s: string, list: string): boolean {
  let positive = false;
  for (const entry of list.split(',')) {
    const negated = entry.startsWith('!');
    if (matchPattern(s, negated ? entry.slice(1) : entry)) {
      if (negated) return false;
      positive = true;
    }
  }
  return positive;
}
