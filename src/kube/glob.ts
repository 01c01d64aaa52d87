// The one wildcard language of Countersign's configuration and of OpenSSH's allowed_signers: `*` is any run of
// characters (colons and slashes included), `?` one character, case-sensitive, nothing else special. Who is an
// agent is decided with it in three places that must agree: the core's classifier, the webhook configuration's
// matchConditions (RE2, via globRegexSource) and doctor's RBAC analysis.

/** Greedy with a single backtrack point: a hostile pattern costs O(text × pattern), never exponential time. */
export function matchGlob(text: string, pattern: string): boolean {
  let ti = 0;
  let pi = 0;
  let starP = -1;
  let starT = 0;
  while (ti < text.length) {
    const pc = pattern[pi];
    if (pc === '*') {
      starP = pi++;
      starT = ti;
    } else if (pc !== undefined && (pc === '?' || pc === text[ti])) {
      pi++;
      ti++;
    } else if (starP >= 0) {
      pi = starP + 1;
      ti = ++starT;
    } else {
      return false;
    }
  }
  while (pattern[pi] === '*') pi++;
  return pi === pattern.length;
}

export type Glob = (text: string) => boolean;

export function compileGlob(pattern: string): Glob {
  if (!pattern.includes('*') && !pattern.includes('?')) return (text) => text === pattern;
  return (text) => matchGlob(text, pattern);
}

export function anyGlob(patterns: readonly string[]): Glob {
  const globs = patterns.map(compileGlob);
  return (text) => globs.some((glob) => glob(text));
}

/** The same pattern as an unanchored RE2 (CEL `matches()`) source. */
export function globRegexSource(pattern: string): string {
  return pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : /[.+^${}()|[\]\\]/.test(ch) ? `\\${ch}` : ch))
    .join('');
}
