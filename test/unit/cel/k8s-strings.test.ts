// cel-go's string extensions (version 2, as Kubernetes enables them) that cel-js lacks, plus string.format.
import { describe, expect, it } from '@jest/globals';
import { rejects, run } from '../../helpers/cel.js';

describe('charAt', () => {
  it('indexes by code point, allows the end, errors beyond', () => {
    expect(run("'hello'.charAt(4)")).toBe('o');
    expect(run("'hello'.charAt(5)")).toBe('');
    expect(run("'a😀b'.charAt(1)")).toBe('😀');
    expect(() => run("'hello'.charAt(-1)")).toThrow('index out of range: -1');
    expect(() => run("'hello'.charAt(6)")).toThrow('index out of range: 6');
  });
});

describe('replace', () => {
  it('replaces all, or at most n (negative means all, zero means none)', () => {
    expect(run("'hello hello'.replace('he', 'we')")).toBe('wello wello');
    expect(run("'hello hello'.replace('he', 'we', -1)")).toBe('wello wello');
    expect(run("'hello hello'.replace('he', 'we', 1)")).toBe('wello hello');
    expect(run("'hello hello'.replace('he', 'we', 0)")).toBe('hello hello');
    expect(run("'image:*'.replace('*', '')")).toBe('image:');
  });

  it('matches an empty search string around every code point, as Go does', () => {
    expect(run("'ab'.replace('', '-')")).toBe('-a-b-');
    expect(run("'ab'.replace('', '-', 2)")).toBe('-a-b');
    expect(run("'😀'.replace('', '|')")).toBe('|😀|');
  });
});

describe('strings.quote', () => {
  it('escapes CEL escape sequences and quotes', () => {
    expect(run(`strings.quote('single-quote with "double quote"')`)).toBe('"single-quote with \\"double quote\\""');
    expect(run(`strings.quote("two escape sequences \\a\\n")`)).toBe('"two escape sequences \\a\\n"');
    expect(run("strings.quote('')")).toBe('""');
  });
});

describe('global matches', () => {
  it('works like the method form, including RE2 leading flags', () => {
    expect(run("matches('v1.29.0', 'v1.[0-9]+')")).toBe(true);
    expect(run("matches('ABC', '(?i)^abc$')")).toBe(true);
    expect(run("matches('abc', '^b')")).toBe(false);
    expect(() => run("matches('abc', '[')")).toThrow('Invalid regular expression');
  });
});

describe('string.format', () => {
  it('substitutes %s %d %f with precision, and %%', () => {
    expect(run("'%s has %d replicas'.format(['web', 3])")).toBe('web has 3 replicas');
    expect(run("'%f'.format([2.71828])")).toBe('2.718280');
    expect(run("'%.3f'.format([1.2345])")).toBe('1.234');
    expect(run("'100%% of %s'.format(['it'])")).toBe('100% of it');
    expect(run("'%s %s %s'.format([true, null, 2.5])")).toBe('true null 2.5');
  });

  it('formats lists and maps as CEL literals, map keys sorted', () => {
    expect(run("'%s'.format([[1, 'a']])")).toBe('[1, "a"]');
    expect(run("'%s'.format([{'b': 1, 'a': 'x'}])")).toBe('{"a":"x", "b":1}');
  });

  it('supports binary, octal and hex', () => {
    expect(run("'%b %o %x %X'.format([5, 8, 255, 255])")).toBe('101 10 ff FF');
    expect(run("'%x'.format(['Hi'])")).toBe('4869');
  });

  it('errors on type mismatches and missing arguments', () => {
    expect(() => run("'%d'.format(['x'])")).toThrow('decimal clause can only be used on integers');
    expect(() => run("'%f'.format([1])")).toThrow('fixed-point clause can only be used on doubles');
    expect(() => run("'%s %s'.format(['x'])")).toThrow('index 1 out of range');
    expect(() => run("'%e'.format([1.0])")).toThrow('unrecognized formatting clause');
  });
});

describe('type checking', () => {
  it('rejects wrong argument types', () => {
    expect(rejects("'a'.charAt('1')")).toBe(true);
    expect(rejects("'a'.replace('a', 1)")).toBe(true);
    expect(rejects("'a'.replace('a', 'b', 'c')")).toBe(true);
    expect(rejects('strings.quote(1)')).toBe(true);
    expect(rejects("'%s'.format('x')")).toBe(true);
    expect(rejects("matches(1, 'a')")).toBe(true);
  });

  it('keeps the functions cel-js already had', () => {
    expect(run("'a,b'.split(',')")).toEqual(['a', 'b']);
    expect(run("['a', 'b'].join('-')")).toBe('a-b');
    expect(run("'hello'.substring(1, 3)")).toBe('el');
    expect(run("'hello'.indexOf('l')")).toBe(2n);
  });
});
