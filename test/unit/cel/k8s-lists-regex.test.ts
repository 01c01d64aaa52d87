// Kubernetes' lists library (isSorted, sum, min, max, indexOf, lastIndexOf) and regex library (find, findAll).
import { describe, expect, it } from '@jest/globals';
import { rejects, run, typeOf } from '../../helpers/cel.js';

describe('lists', () => {
  it('isSorted', () => {
    expect(run('[1, 2, 3].isSorted()')).toBe(true);
    expect(run('[1, 1, 2].isSorted()')).toBe(true);
    expect(run("['b', 'a'].isSorted()")).toBe(false);
    expect(run('[].isSorted()')).toBe(true);
    expect(run('object.xs.isSorted()', { xs: [1, 5, 9] })).toBe(true);
  });

  it('sum, with the zero value for an empty list and an overflow check', () => {
    expect(run('[1, 2, 3].sum()')).toBe(6n);
    expect(run('[1.5, 2.0].sum()')).toBe(3.5);
    expect(run('[].sum()')).toBe(0n);
    expect(run('object.xs.sum()', { xs: [1, 2] })).toBe(3n);
    expect(() => run('[9223372036854775807, 1].sum()')).toThrow('integer overflow');
  });

  it('min and max, erroring on an empty list', () => {
    expect(run('[3, 1, 2].min()')).toBe(1n);
    expect(run('[3, 1, 2].max()')).toBe(3n);
    expect(run("['a', 'c', 'b'].max()")).toBe('c');
    expect(run('[false, true].min()')).toBe(false);
    expect(() => run('[].min()')).toThrow('min(list) called on empty list');
  });

  it('indexOf and lastIndexOf with CEL equality', () => {
    expect(run('[1, 2, 1].indexOf(1)')).toBe(0n);
    expect(run('[1, 2, 1].lastIndexOf(1)')).toBe(2n);
    expect(run('[1, 2].indexOf(3)')).toBe(-1n);
    expect(run('[[1], [2]].indexOf([2])')).toBe(1n);
    expect(run("object.ports.indexOf({'port': 80})", { ports: [{ port: 443 }, { port: 80 }] })).toBe(1n);
  });

  it('type-checks element types as Kubernetes declares them', () => {
    expect(typeOf('[1, 2].sum()')).toBe('int');
    expect(typeOf('[1.0].min()')).toBe('double');
    expect(typeOf("['a'].indexOf('a')")).toBe('int');
    expect(rejects("['a'].sum()")).toBe(true);
    expect(rejects('[{}].min()')).toBe(true);
    expect(rejects("[1].indexOf('a')")).toBe(true);
    expect(rejects('[1].isSorted(1)')).toBe(true);
  });
});

describe('regex', () => {
  it('find returns the first match or an empty string', () => {
    expect(run("'abc 123 def 456'.find('[0-9]+')")).toBe('123');
    expect(run("'abc'.find('x')")).toBe('');
    expect(run("'ABC'.find('(?i)b')")).toBe('B');
  });

  it('findAll returns all matches, or at most n', () => {
    expect(run("'abc 123 def 456'.findAll('[0-9]+')")).toEqual(['123', '456']);
    expect(run("'abc 123 def 456'.findAll('[0-9]+', 1)")).toEqual(['123']);
    expect(run("'abc 123 def 456'.findAll('[0-9]+', 0)")).toEqual([]);
    expect(run("'abc 123 def 456'.findAll('[0-9]+', -1)")).toEqual(['123', '456']);
    expect(run("'abc'.findAll('x')")).toEqual([]);
  });

  it('skips an empty match right after a match, as Go does', () => {
    expect(run("'abc'.findAll('b*')")).toEqual(['', 'b', '']);
  });

  it('errors on an invalid pattern and type-checks its arguments', () => {
    expect(() => run("'abc'.find('[')")).toThrow('Invalid regular expression');
    expect(typeOf("'a'.findAll('a')")).toBe('list<string>');
    expect(rejects("'a'.find(1)")).toBe(true);
    expect(rejects("'a'.findAll('a', 'b')")).toBe(true);
  });
});
