// The OpenSSH allowed_signers format (ssh-keygen(1) "ALLOWED SIGNERS"):
//   principals [options] keytype base64-key [comment]
// Parsed strictly: a bad line fails the whole file, because a half-read trust list is worse than
// none. Certificate authorities are refused: we verify plain keys only.
import { fingerprint, isKnownKeyType, parsePublicKey, SUPPORTED_KEY_TYPES } from './keys.js';
import { decodeBase64Strict, SshWireError } from './wire.js';

export interface AllowedSigner {
  /** 1-based line in the source text, for messages that point an operator at the entry. */
  readonly line: number;
  /** Pattern-list of principals (wildcards and "!" negation, as in ssh_config PATTERNS). */
  readonly principals: string;
  /** Pattern-list of namespaces the key may sign in; absent means any. */
  readonly namespaces?: string;
  /** Unix seconds; the key is refused before this instant. */
  readonly validAfter?: number;
  /** Unix seconds; the key is refused after this instant. */
  readonly validBefore?: number;
  readonly keyType: string;
  /** The SSH wire-format public key blob. */
  readonly publicKey: Buffer;
  readonly fingerprint: string;
  readonly comment?: string;
}

export interface AllowedSignersError {
  readonly line: number;
  readonly message: string;
}

export type AllowedSignersResult =
  | { readonly ok: true; readonly signers: AllowedSigner[] }
  | { readonly ok: false; readonly errors: AllowedSignersError[] };

interface Options { namespaces?: string; validAfter?: number; validBefore?: number }

class LineError extends Error {}

const WS = /[ \t]/;

/** Splits off the next whitespace-delimited token; a leading quote makes it run to the closing quote. */
function nextToken(rest: string, what: string): [token: string, rest: string] {
  if (rest.startsWith('"')) {
    const close = rest.indexOf('"', 1);
    if (close < 0) throw new LineError(`unterminated quote in ${what}`);
    const after = rest.slice(close + 1);
    if (after !== '' && !WS.test(after.charAt(0))) throw new LineError(`unexpected text after quoted ${what}`);
    return [rest.slice(1, close), after.trimStart()];
  }
  const end = rest.search(WS);
  return end < 0 ? [rest, ''] : [rest.slice(0, end), rest.slice(end).trimStart()];
}

/** The options field ends at the first whitespace outside double quotes. */
function optionsToken(rest: string): [token: string, rest: string] {
  let quoted = false;
  let i = 0;
  for (; i < rest.length; i++) {
    const c = rest.charAt(i);
    if (!quoted && WS.test(c)) break;
    if (c === '\\' && rest.charAt(i + 1) === '"') i++;
    else if (c === '"') quoted = !quoted;
  }
  if (quoted) throw new LineError('unterminated quote in options');
  return [rest.slice(0, i), rest.slice(i).trimStart()];
}

/** YYYYMMDD[HHMM[SS]] with an optional Z/UTC suffix; without one it is local time, like ssh-keygen. */
export function parseSshTime(text: string): number | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)(?:(\d\d)(\d\d)(\d\d)?)?(z|utc)?$/i.exec(text);
  if (m === null) return undefined;
  const field = (i: number): number => Number(m[i] ?? '0');
  const [y, mo, d, h, mi, s] = [field(1), field(2), field(3), field(4), field(5), field(6)];
  if (y < 1970) return undefined;
  const utc = m[7] !== undefined;
  const date = utc ? new Date(Date.UTC(y, mo - 1, d, h, mi, s)) : new Date(y, mo - 1, d, h, mi, s);
  const back = utc
    ? [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(), date.getUTCSeconds()]
    : [date.getFullYear(), date.getMonth() + 1, date.getDate(), date.getHours(), date.getMinutes(), date.getSeconds()];
  // Date rolls 31 February into March; a timestamp that does not round-trip was not a real time.
  if (back.join() !== [y, mo, d, h, mi, s].join()) return undefined;
  const seconds = Math.floor(date.getTime() / 1000);
  return seconds > 0 ? seconds : undefined;
}

/** A double-quoted option value with \" escapes; returns the value and the text after it. */
function quotedValue(text: string, name: string): [value: string, rest: string] {
  if (!text.startsWith('"')) throw new LineError(`${name} value must be double-quoted`);
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const c = text.charAt(i);
    if (c === '"') return [value, text.slice(i + 1)];
    if (c === '\\' && text.charAt(i + 1) === '"') i++;
    value += text.charAt(i);
  }
  throw new LineError(`${name} value is missing its closing quote`);
}

function setTime(options: Options, field: 'validAfter' | 'validBefore', name: string, value: string): void {
  const seconds = parseSshTime(value);
  if (seconds === undefined) throw new LineError(`invalid ${name} time "${value}" (want YYYYMMDD[HHMM[SS]][Z])`);
  options[field] = seconds;
}

function applyOption(options: Options, name: string, value: string): void {
  if (name === 'namespaces') {
    if (value === '') throw new LineError('namespaces is empty');
    options.namespaces = value;
  } else {
    setTime(options, name === 'valid-after' ? 'validAfter' : 'validBefore', name, value);
  }
}

function parseOptions(text: string): Options {
  const options: Options = {};
  const seen = new Set<string>();
  let rest = text;
  while (rest !== '') {
    const name = (/^[A-Za-z-]+/.exec(rest)?.[0] ?? '').toLowerCase();
    if (name === 'cert-authority') throw new LineError('cert-authority is not supported: only plain keys may sign approvals');
    if (!['namespaces', 'valid-after', 'valid-before'].includes(name) || rest.charAt(name.length) !== '=') {
      throw new LineError(`unknown option "${rest.split(/[=,]/)[0] ?? rest}"`);
    }
    if (seen.has(name)) throw new LineError(`${name} given more than once`);
    seen.add(name);
    const [value, after] = quotedValue(rest.slice(name.length + 1), name);
    applyOption(options, name, value);
    if (after !== '' && !after.startsWith(',')) throw new LineError(`unexpected text after ${name}`);
    rest = after.slice(1);
    if (after === ',') throw new LineError('options end with a comma');
  }
  if (options.validAfter !== undefined && options.validBefore !== undefined && options.validBefore <= options.validAfter) {
    throw new LineError('valid-before is not after valid-after');
  }
  return options;
}

function parseKey(keyType: string, rest: string): { publicKey: Buffer; comment?: string } {
  if (!SUPPORTED_KEY_TYPES.includes(keyType)) {
    throw new LineError(`key type ${keyType} is not supported (supported: ${SUPPORTED_KEY_TYPES.join(', ')})`);
  }
  const [encoded, comment] = nextToken(rest, 'key');
  if (encoded === '') throw new LineError('missing base64 key');
  const publicKey = decodeBase64Strict(encoded);
  if (publicKey === undefined) throw new LineError('key is not valid base64');
  let parsedType: string;
  try {
    parsedType = parsePublicKey(publicKey).type;
  } catch (error: unknown) {
    if (error instanceof SshWireError) throw new LineError(`invalid key: ${error.message}`);
    throw error;
  }
  if (parsedType !== keyType) throw new LineError(`key is ${parsedType} but the line says ${keyType}`);
  return comment === '' ? { publicKey } : { publicKey, comment };
}

function parseLine(text: string, line: number): AllowedSigner {
  const [principals, afterPrincipals] = nextToken(text, 'principals');
  if (principals === '') throw new LineError('empty principals');
  if (afterPrincipals === '') throw new LineError('missing key');
  let [word, rest] = nextToken(afterPrincipals, 'key type');
  let options: Options = {};
  if (!isKnownKeyType(word)) {
    let optionText: string;
    [optionText, rest] = optionsToken(afterPrincipals);
    options = parseOptions(optionText);
    if (rest === '') throw new LineError('missing key');
    [word, rest] = nextToken(rest, 'key type');
  }
  const key = parseKey(word, rest);
  return { line, principals, ...options, keyType: word, ...key, fingerprint: fingerprint(key.publicKey) };
}

export function parseAllowedSigners(text: string): AllowedSignersResult {
  const signers: AllowedSigner[] = [];
  const errors: AllowedSignersError[] = [];
  text.split('\n').forEach((raw, index) => {
    const content = raw.replace(/\r$/, '').trim();
    if (content === '' || content.startsWith('#')) return;
    try {
      signers.push(parseLine(content, index + 1));
    } catch (error: unknown) {
      if (!(error instanceof LineError)) throw error;
      errors.push({ line: index + 1, message: error.message });
    }
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, signers };
}
