// Shell-style globs (`*` any run of characters, `?` one character) compiled once to anchored regexes.
export type Glob = (text: string) => boolean;

export function compileGlob(pattern: string): Glob {
  if (!pattern.includes('*') && !pattern.includes('?')) return (text) => text === pattern;
  const source = pattern
    .split('')
    .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('');
  const regex = new RegExp(`^${source}$`, 's');
  return (text) => regex.test(text);
}

export function anyGlob(patterns: readonly string[]): Glob {
  const globs = patterns.map(compileGlob);
  return (text) => globs.some((glob) => glob(text));
}
