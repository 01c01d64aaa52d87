// Kubernetes' quantity library as registered in our CEL environment: parsing, exact comparison, arithmetic.
import { describe, expect, it } from '@jest/globals';
import { rejects, run, typeOf } from '../../helpers/cel.js';

describe('quantity parsing', () => {
  it('reads decimal SI, binary SI and exponent suffixes', () => {
    expect(run("quantity('1.5Gi') == quantity('1536Mi')")).toBe(true);
    expect(run("quantity('1e3') == quantity('1k')")).toBe(true);
    expect(run("quantity('1E') == quantity('1e18')")).toBe(true);
    expect(run("quantity('1.3E+6') == quantity('1300k')")).toBe(true);
    expect(run("quantity('0.5e-2') == quantity('5m')")).toBe(true);
    expect(run("quantity('12Mi').asInteger()")).toBe(12n * 1024n * 1024n);
    expect(run("quantity('100.035Ki').asApproximateFloat()")).toBeCloseTo(102435.84, 6);
  });

  // Cases from apimachinery's own ParseQuantity table, where its scanner is permissive or rounds.
  it.each([
    ['.001', '1m'],
    ['1.', '1'],
    ['1.G', '1G'],
    ['.0001k', '100m'],
    ['3.001n', '4n'],
    ['1.1E-9', '2n'],
    ['0.9n', '1n'],
    ['0.00000012345', '124n'],
    ['0.000000000001Ki', '2n'],
    ['9Ei', '9223372036854775807'],
    ['-3.001n', '-4n'],
  ])('%s equals %s (nano round-up away from zero, binary cap at int64)', (input, canonical) => {
    expect(run(`quantity('${input}').compareTo(quantity('${canonical}'))`)).toBe(0n);
  });

  it.each(['200K', 'Three', '1,3G', '10Mo', '10Mm', '1.1.M', '1+1.0M', '0.1mi', '.5i', '-3.01e-', ' 1', '1 ', '', '1e4294967297'])(
    'rejects %p',
    (input) => {
      expect(run(`isQuantity('${input}')`)).toBe(false);
      expect(() => run(`quantity('${input}')`)).toThrow(/quantit/);
    },
  );

  it('reports the apiserver error messages', () => {
    expect(() => run("quantity('10Mo')")).toThrow('quantities must match the regular expression');
    expect(() => run("quantity('10Mm')")).toThrow("unable to parse quantity's suffix");
  });

  it('accepts what the apiserver scanner accepts, including oddities', () => {
    // The CEL library's doc comment calls quantity('Mi') an error, but ParseQuantity's scanner reads it as zero.
    expect(run("isQuantity('Mi')")).toBe(true);
    expect(run("quantity('-.') == quantity('0')")).toBe(true);
    expect(run("isQuantity('10000k') && isQuantity('1.3Gi') && isQuantity('+5')")).toBe(true);
  });
});

describe('quantity comparison is exact', () => {
  it('orders values across suffix families', () => {
    expect(run("quantity('100m').isLessThan(quantity('1'))")).toBe(true);
    expect(run("quantity('50M').isLessThan(quantity('50Mi'))")).toBe(true);
    expect(run("quantity('50Mi').isGreaterThan(quantity('50M'))")).toBe(true);
    expect(run("quantity('200M').compareTo(quantity('0.2G'))")).toBe(0n);
    expect(run("quantity('50M').compareTo(quantity('50Mi'))")).toBe(-1n);
    expect(run("quantity('-1').compareTo(quantity('-2'))")).toBe(1n);
  });

  it('distinguishes values a double cannot', () => {
    expect(run("quantity('9007199254740993').isGreaterThan(quantity('9007199254740992'))")).toBe(true);
    expect(run("quantity('1.000000001') == quantity('1')")).toBe(false);
  });

  it('compares astronomically large exponents without materialising them', () => {
    expect(run("quantity('1e2147483647').isGreaterThan(quantity('9Ei'))")).toBe(true);
    expect(run("quantity('1e-2147483647') == quantity('1n')")).toBe(true);
  });

  it('uses value equality for == and !=', () => {
    expect(run("quantity('1k') == quantity('1000')")).toBe(true);
    expect(run("quantity('1k') != quantity('1Ki')")).toBe(true);
    expect(run("[quantity('2')].exists(q, q == quantity('2000m'))")).toBe(true);
  });
});

describe('quantity arithmetic and conversion', () => {
  it('adds and subtracts quantities and ints', () => {
    expect(run("quantity('50k').add(quantity('20')) == quantity('50.02k')")).toBe(true);
    expect(run("quantity('50k').add(20).isLessThan(quantity('50020'))")).toBe(false);
    expect(run("quantity('50k').sub(20) == quantity('49980')")).toBe(true);
    expect(run("quantity('50k').add(20).sub(quantity('100k')).sub(-50000).asInteger()")).toBe(20n);
    expect(run("quantity('1Ei').add(quantity('9Ei')).isGreaterThan(quantity('9Ei'))")).toBe(true);
  });

  it('reports sign as a method and as the global Kubernetes declares', () => {
    expect(run("quantity('-0.1n').sign()")).toBe(-1n);
    expect(run("sign(quantity('0'))")).toBe(0n);
    expect(run("quantity('3Gi').sign()")).toBe(1n);
  });

  it('converts to int only where the apiserver can', () => {
    expect(run("quantity('50k').asInteger()")).toBe(50000n);
    expect(run("quantity('0.5k').asInteger()")).toBe(500n);
    expect(run("quantity('9999999999999999999999999999999999999G').isInteger()")).toBe(false);
    expect(() => run("quantity('9999999999999999999999999999999999999G').asInteger()")).toThrow('cannot convert value to integer');
    // The apiserver keeps these in forms it never turns into int64, integral or not.
    expect(run("quantity('1000m').isInteger()")).toBe(false);
    expect(run("quantity('1.5Gi').isInteger()")).toBe(false);
  });

  it('converts to an approximate double', () => {
    expect(run("quantity('50.703k').asApproximateFloat()")).toBe(50703);
    expect(run("quantity('1.5Gi').asApproximateFloat()")).toBe(1610612736);
    expect(run("quantity('1e400').asApproximateFloat()")).toBe(Infinity);
  });

  it('refuses arithmetic that would need an astronomically large number', () => {
    expect(() => run("quantity('1e999999999').add(quantity('1'))")).toThrow('out of range');
  });
});

describe('quantity type checking', () => {
  it('types the functions precisely', () => {
    expect(typeOf("quantity('1')")).toBe('Quantity');
    expect(typeOf("quantity('1').asInteger()")).toBe('int');
    expect(typeOf("quantity('1').asApproximateFloat()")).toBe('double');
    expect(typeOf("quantity('1').add(1)")).toBe('Quantity');
    expect(typeOf('quantity(object.spec.memory).isLessThan(quantity("1Gi"))')).toBe('bool');
  });

  it('rejects wrong argument types and opaque field access', () => {
    expect(rejects('quantity(1)')).toBe(true);
    expect(rejects('isQuantity([1, 2, 3])')).toBe(true);
    expect(rejects("quantity('1').add(1.5)")).toBe(true);
    expect(rejects("quantity('1').isLessThan(1)")).toBe(true);
    expect(rejects("quantity('1') == 1")).toBe(true);
    expect(rejects("quantity('1').value")).toBe(true);
  });
});
