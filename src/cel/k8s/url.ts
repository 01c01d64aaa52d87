// Kubernetes' CEL URL library (k8s.io/apiserver/pkg/cel/library/urls.go).
import type { Environment } from '@marcbachmann/cel-js';
import { celError } from './errors.js';
import { UrlError, escapedPath, parseQuery, parseUrl, parseUrlWithFragment, splitHostPort, type ParsedUrl } from './url-parse.js';

export class Url {
  constructor(readonly parts: ParsedUrl) {}
}

function isUrl(text: string): boolean {
  try {
    parseUrl(text, true);
    return true;
  } catch {
    return false;
  }
}

function toUrl(text: string): Url {
  try {
    // Kubernetes validates with ParseRequestURI (absolute only), then keeps url.Parse's result (fragment split off).
    parseUrl(text, true);
    return new Url(parseUrlWithFragment(text));
  } catch (error: unknown) {
    if (error instanceof UrlError) throw celError(`URL parse error during conversion from string: parse "${text}": ${error.message}`);
    throw error;
  }
}

export function registerUrlLibrary(env: Environment): void {
  env.registerType('URL', { ctor: Url, fields: {} });
  env.registerFunction('url(string): URL', toUrl);
  env.registerFunction('isURL(string): bool', isUrl);
  env.registerFunction('URL.getScheme(): string', (u: Url) => u.parts.scheme);
  env.registerFunction('URL.getHost(): string', (u: Url) => u.parts.host);
  env.registerFunction('URL.getHostname(): string', (u: Url) => splitHostPort(u.parts.host).hostname);
  env.registerFunction('URL.getPort(): string', (u: Url) => splitHostPort(u.parts.host).port);
  env.registerFunction('URL.getEscapedPath(): string', (u: Url) => escapedPath(u.parts));
  env.registerFunction('URL.getQuery(): map<string, list<string>>', (u: Url) => parseQuery(u.parts.rawQuery));
}
