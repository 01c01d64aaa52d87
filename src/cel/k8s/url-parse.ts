// URL parsing with Go net/url's rules, because Kubernetes' url() and isURL() accept exactly what
// url.ParseRequestURI accepts (an absolute URL or an absolute path) and its getters return net/url's fields.
// WHATWG URL (the JS global) normalises and accepts differently, so it cannot stand in.

export class UrlError extends Error {}

export interface ParsedUrl {
  scheme: string;
  opaque: string;
  host: string;
  path: string;
  rawPath: string;
  rawQuery: string;
}

type Mode = 'path' | 'host' | 'query' | 'userinfo';

const ALNUM = /^[A-Za-z0-9]$/;
const HEX = /^[0-9A-Fa-f]{2}$/;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function shouldEscape(c: string, mode: Mode): boolean {
  if (ALNUM.test(c)) return false;
  if (mode === 'host' && `!$&'()*+,;=:[]<>"`.includes(c)) return false;
  if ('-_.~'.includes(c)) return false;
  if ('$&+,/:;=?@'.includes(c)) return mode === 'path' ? c === '?' : true;
  return true;
}

/** Percent-decoding with net/url's validation: bad escapes, and characters a host may not contain, are errors. */
export function unescape(s: string, mode: Mode): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3);
      if (!HEX.test(hex)) throw new UrlError(`invalid URL escape "${s.slice(i, i + 3)}"`);
      if (mode === 'host' && parseInt(hex.charAt(0), 16) < 8 && hex !== '25') {
        throw new UrlError(`invalid URL escape "%${hex}"`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c === '+' && mode === 'query') {
      bytes.push(0x20);
    } else {
      if (mode === 'host' && c.charCodeAt(0) < 0x80 && shouldEscape(c, mode)) {
        throw new UrlError(`invalid character "${c}" in host name`);
      }
      bytes.push(...encoder.encode(c));
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}

function escapePath(s: string): string {
  let out = '';
  for (const byte of encoder.encode(s)) {
    const c = String.fromCharCode(byte);
    out += byte < 0x80 && !shouldEscape(c, 'path') ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function validEncodedPath(s: string): boolean {
  for (const c of s) {
    if (`!$&'()*+,;=:@[]%`.includes(c)) continue;
    if (shouldEscape(c, 'path')) return false;
  }
  return true;
}

export function escapedPath(url: ParsedUrl): string {
  if (url.rawPath !== '' && validEncodedPath(url.rawPath)) {
    try {
      if (unescape(url.rawPath, 'path') === url.path) return url.rawPath;
    } catch {
      // fall through to re-escaping the decoded path
    }
  }
  return url.path === '*' ? '*' : escapePath(url.path);
}

function validOptionalPort(port: string): boolean {
  return port === '' || /^:[0-9]*$/.test(port);
}

export function splitHostPort(hostPort: string): { hostname: string; port: string } {
  let hostname = hostPort;
  let port = '';
  const colon = hostname.lastIndexOf(':');
  if (colon !== -1 && validOptionalPort(hostname.slice(colon))) {
    port = hostname.slice(colon + 1);
    hostname = hostname.slice(0, colon);
  }
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  return { hostname, port };
}

function parseHost(host: string): string {
  let colonPort = '';
  if (host.startsWith('[')) {
    const close = host.lastIndexOf(']');
    if (close < 0) throw new UrlError("missing ']' in host");
    colonPort = host.slice(close + 1);
  } else if (host.includes(':')) {
    colonPort = host.slice(host.lastIndexOf(':'));
  }
  if (!validOptionalPort(colonPort)) throw new UrlError(`invalid port "${colonPort}" after host`);
  return unescape(host, 'host');
}

const USERINFO = /^[A-Za-z0-9\-._:~!$&'()*+,;=%@]*$/;

function parseAuthority(authority: string): string {
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    if (!USERINFO.test(userinfo)) throw new UrlError('net/url: invalid userinfo');
    unescape(userinfo, 'userinfo');
  }
  return parseHost(authority.slice(at + 1));
}

function splitScheme(raw: string): { scheme: string; rest: string } {
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charAt(i);
    if (/[A-Za-z]/.test(c)) continue;
    if (/[0-9+\-.]/.test(c)) {
      if (i === 0) break;
      continue;
    }
    if (c === ':') {
      if (i === 0) throw new UrlError('missing protocol scheme');
      return { scheme: raw.slice(0, i).toLowerCase(), rest: raw.slice(i + 1) };
    }
    break;
  }
  return { scheme: '', rest: raw };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

function splitQuery(rest: string): { rest: string; rawQuery: string } {
  const q = rest.indexOf('?');
  // A lone trailing '?' is net/url's ForceQuery: no query, but not part of the path either.
  if (q < 0 || q === rest.length - 1) return { rest: q < 0 ? rest : rest.slice(0, -1), rawQuery: '' };
  return { rest: rest.slice(0, q), rawQuery: rest.slice(q + 1) };
}

function checkRelative(rest: string, viaRequest: boolean): void {
  if (viaRequest) throw new UrlError('invalid URI for request');
  const slash = rest.indexOf('/');
  if ((slash < 0 ? rest : rest.slice(0, slash)).includes(':')) {
    throw new UrlError('first path segment in URL cannot contain colon');
  }
}

/** net/url's parse; `viaRequest` is ParseRequestURI (absolute URL or absolute path, no fragment handling). */
export function parseUrl(raw: string, viaRequest: boolean): ParsedUrl {
  if (CONTROL.test(raw)) throw new UrlError('net/url: invalid control character in URL');
  if (raw === '' && viaRequest) throw new UrlError('empty url');
  const url: ParsedUrl = { scheme: '', opaque: '', host: '', path: '', rawPath: '', rawQuery: '' };
  if (raw === '*') return { ...url, path: '*' };
  const { scheme, rest: afterScheme } = splitScheme(raw);
  const { rest: beforeQuery, rawQuery } = splitQuery(afterScheme);
  let rest = beforeQuery;
  Object.assign(url, { scheme, rawQuery });
  if (!rest.startsWith('/')) {
    if (scheme !== '') return { ...url, opaque: rest };
    checkRelative(rest, viaRequest);
  }
  if ((scheme !== '' || (!viaRequest && !rest.startsWith('///'))) && rest.startsWith('//')) {
    const authorityEnd = rest.indexOf('/', 2);
    url.host = parseAuthority(authorityEnd < 0 ? rest.slice(2) : rest.slice(2, authorityEnd));
    rest = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  }
  url.path = unescape(rest, 'path');
  url.rawPath = escapePath(url.path) === rest ? '' : rest;
  return url;
}

/** url.Parse: the fragment is cut off first (and must itself be a valid escape sequence). */
export function parseUrlWithFragment(raw: string): ParsedUrl {
  const hash = raw.indexOf('#');
  if (hash >= 0) unescape(raw.slice(hash + 1), 'path');
  return parseUrl(hash < 0 ? raw : raw.slice(0, hash), false);
}

export function parseQuery(rawQuery: string): Map<string, string[]> {
  const values = new Map<string, string[]>();
  for (const pair of rawQuery.split('&')) {
    if (pair === '' || pair.includes(';')) continue;
    const eq = pair.indexOf('=');
    try {
      const key = unescape(eq < 0 ? pair : pair.slice(0, eq), 'query');
      const value = unescape(eq < 0 ? '' : pair.slice(eq + 1), 'query');
      values.set(key, [...(values.get(key) ?? []), value]);
    } catch {
      // net/url skips pairs it cannot decode
    }
  }
  return values;
}
