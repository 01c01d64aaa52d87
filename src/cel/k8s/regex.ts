// Kubernetes' CEL regex library (k8s.io/apiserver/pkg/cel/library/regex.go): find and findAll.
import type { Environment } from '@marcbachmann/cel-js';
import { toIndex } from './errors.js';
import { compileRe2 } from './re2.js';

function find(text: string, pattern: string): string {
  return compileRe2(pattern).exec(text)?.[0] ?? '';
}

/**
 * Go's FindAllString: successive non-overlapping matches, where an empty match right where the previous match
 * ended is skipped (JS's matchAll would keep it, so 'abc' with 'b*' would give four matches instead of three).
 */
export function findAll(text: string, pattern: string, limit: number): string[] {
  const regex = compileRe2(pattern, true);
  const found: string[] = [];
  let previousEnd = -1;
  for (let pos = 0; (limit < 0 || found.length < limit) && pos <= text.length; ) {
    regex.lastIndex = pos;
    const match = regex.exec(text);
    if (match === null) break;
    const start = match.index;
    const end = start + match[0].length;
    const accept = !(end === pos && start === previousEnd);
    if (end === pos) {
      const code = text.codePointAt(pos);
      pos += code !== undefined && code > 0xffff ? 2 : 1;
    } else {
      pos = end;
    }
    previousEnd = end;
    if (accept) found.push(match[0]);
  }
  return found;
}

export function registerRegexLibrary(env: Environment): void {
  env.registerFunction('string.find(string): string', find);
  env.registerFunction('string.findAll(string): list<string>', (text: string, pattern: string) => findAll(text, pattern, -1));
  env.registerFunction('string.findAll(string, int): list<string>', (text: string, pattern: string, limit: bigint) =>
    findAll(text, pattern, toIndex(limit)),
  );
}
