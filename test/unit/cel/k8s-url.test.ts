// Kubernetes' URL library: url()/isURL() accept what Go's url.ParseRequestURI accepts, getters mirror net/url.
import { describe, expect, it } from '@jest/globals';
import { rejects, run, typeOf } from '../../helpers/cel.js';

describe('url', () => {
  it('splits an absolute URL into its parts', () => {
    const u = "url('https://user@example.com:8080/a%20b/c?x=1&x=2&y=a+b#frag')";
    expect(run(`${u}.getScheme()`)).toBe('https');
    expect(run(`${u}.getHost()`)).toBe('example.com:8080');
    expect(run(`${u}.getHostname()`)).toBe('example.com');
    expect(run(`${u}.getPort()`)).toBe('8080');
    expect(run(`${u}.getEscapedPath()`)).toBe('/a%20b/c');
    expect(run(`${u}.getQuery()`)).toEqual(new Map([['x', ['1', '2']], ['y', ['a b']]]));
  });

  it('handles IPv6 hosts, missing ports and empty paths', () => {
    expect(run("url('https://[::1]:80/').getHost()")).toBe('[::1]:80');
    expect(run("url('https://[::1]:80/').getHostname()")).toBe('::1');
    expect(run("url('https://example.com').getPort()")).toBe('');
    expect(run("url('https://example.com').getEscapedPath()")).toBe('');
    expect(run("url('https://example.com/path').getQuery()")).toEqual(new Map());
  });

  it('accepts absolute paths and opaque URLs, as ParseRequestURI does', () => {
    expect(run("url('/absolute/path').getEscapedPath()")).toBe('/absolute/path');
    expect(run("url('/absolute/path').getScheme()")).toBe('');
    expect(run("isURL('mailto:me@example.com')")).toBe(true);
  });

  it.each(['example.com', 'relative/path', '', 'https://exa mple.com', 'https://example.com:port/', '://missing', 'https://[::1/', 'http://a\\tb'])(
    'rejects %p',
    (input) => {
      expect(run(`isURL('${input}')`)).toBe(false);
      expect(() => run(`url('${input}')`)).toThrow('URL parse error');
    },
  );

  it('type-checks', () => {
    expect(typeOf("url('https://a').getQuery()")).toBe('map<string, list<string>>');
    expect(rejects('url(1)')).toBe(true);
    expect(rejects("url('https://a').getPort(1)")).toBe(true);
    expect(rejects("isURL('a') == 'true'")).toBe(true);
  });
});
