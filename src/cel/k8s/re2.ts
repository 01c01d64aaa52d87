// Kubernetes patterns are RE2; JS RegExp reads most of them the same way (the engine guard in ../guards.ts keeps
// them linear). The one common RE2 form JS rejects is a leading flag group like (?i), so it becomes a RegExp flag.
import { celError } from './errors.js';

const LEADING_FLAGS = /^\(\?([ims]+)\)/;
const cache = new Map<string, RegExp>();
const CACHE_LIMIT = 256;

export function compileRe2(pattern: string, global = false): RegExp {
  const key = `${global ? 'g' : '-'}${pattern}`;
  const cached = cache.get(key);
  if (cached !== undefined) {
    cached.lastIndex = 0;
    return cached;
  }
  const flags = LEADING_FLAGS.exec(pattern);
  const source = flags === null ? pattern : pattern.slice(flags[0].length);
  const flagSet = new Set(`${flags?.[1] ?? ''}${global ? 'g' : ''}`);
  let regex: RegExp;
  try {
    regex = new RegExp(source, [...flagSet].join(''));
  } catch {
    throw celError(`Invalid regular expression: ${pattern}`);
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, regex);
  return regex;
}
