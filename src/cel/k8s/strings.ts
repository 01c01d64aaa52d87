// The parts of cel-go's ext.Strings (version 2, as Kubernetes enables it) that cel-js lacks. cel-js already has
// indexOf, lastIndexOf, substring, split, join, lowerAscii, upperAscii and trim; those stay as they are.
import type { Environment } from '@marcbachmann/cel-js';
import { celError, toIndex } from './errors.js';
import { formatString } from './format.js';
import { compileRe2 } from './re2.js';

/** Go's strings.Replace: an empty `old` matches before every character (code point) and at the end. */
export function replaceN(text: string, old: string, replacement: string, limit: number): string {
  if (limit === 0 || old === replacement) return text;
  if (old === '') {
    const chars = Array.from(text);
    let out = '';
    for (let i = 0; i <= chars.length; i++) {
      if (limit < 0 || i < limit) out += replacement;
      out += chars[i] ?? '';
    }
    return out;
  }
  let out = '';
  let from = 0;
  for (let count = 0; limit < 0 || count < limit; count++) {
    const at = text.indexOf(old, from);
    if (at < 0) break;
    out += text.slice(from, at) + replacement;
    from = at + old.length;
  }
  return out + text.slice(from);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const QUOTE_ESCAPES: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** strings.quote: a double-quoted CEL literal; invalid UTF-16 becomes U+FFFD as invalid UTF-8 does in Go. */
export function quote(text: string): string {
  const clean = text.replace(LONE_SURROGATE, '\uFFFD');
  return `"${Array.from(clean, (c) => QUOTE_ESCAPES[c] ?? c).join('')}"`;
}

function charAt(text: string, index: bigint): string {
  const chars = Array.from(text);
  const i = toIndex(index);
  if (i < 0 || i > chars.length) throw celError(`index out of range: ${index}`);
  return chars[i] ?? '';
}

class StringsNamespace {
  readonly name = 'strings';
}

export function registerStringsLibrary(env: Environment): void {
  env.registerFunction('string.charAt(int): string', charAt);
  env.registerFunction('string.replace(string, string): string', (s: string, old: string, rep: string) =>
    replaceN(s, old, rep, -1),
  );
  env.registerFunction('string.replace(string, string, int): string', (s: string, old: string, rep: string, n: bigint) =>
    replaceN(s, old, rep, toIndex(n)),
  );
  env.registerFunction('string.format(list): string', (s: string, args: unknown[]) => formatString(s, args));
  // `strings.quote(...)` is a namespaced global in cel-go; cel-js models namespaces as a constant of a marker type.
  env.registerType('StringsNamespace', { ctor: StringsNamespace, fields: {} });
  env.registerConstant('strings', 'StringsNamespace', new StringsNamespace());
  env.registerFunction('StringsNamespace.quote(string): string', (_ns: StringsNamespace, s: string) => quote(s));
  // The standard library's global form of matches, which cel-js only offers as a method.
  env.registerFunction('matches(string, string): bool', (s: string, pattern: string) => compileRe2(pattern).test(s));
}
