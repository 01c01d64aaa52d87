// Turns an untrusted body into an AdmissionRequest, or a message that names exactly what is wrong.
// Only the fields the core relies on are checked; everything else is passed through untouched.
import { OPERATIONS, type AdmissionRequest, type Operation } from '../kube/types.js';

export type DecodeResult =
  | { ok: true; request: AdmissionRequest }
  | { ok: false; message: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(message: string): DecodeResult {
  return { ok: false, message };
}

/** Parses raw JSON text; a syntax error reports the parser's own position text. */
export function decodeReviewText(text: string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message : String(error);
    return fail(`malformed JSON: ${detail}`);
  }
  return decodeReview(parsed);
}

function checkStrings(source: Record<string, unknown>, path: string, fields: readonly string[]): string | undefined {
  for (const field of fields) {
    if (typeof source[field] !== 'string') return `${path}.${field}: must be a string`;
  }
  return undefined;
}

function checkObjectField(request: Record<string, unknown>, field: string): string | undefined {
  const value = request[field];
  if (value === undefined || value === null || isRecord(value)) return undefined;
  return `request.${field}: must be an object or null`;
}

function checkUserInfo(value: unknown): string | undefined {
  if (!isRecord(value)) return 'request.userInfo: required object is missing';
  if (typeof value.username !== 'string') return 'request.userInfo.username: must be a string';
  const groups = value.groups;
  if (groups !== undefined && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) {
    return 'request.userInfo.groups: must be a list of strings';
  }
  return undefined;
}

function checkRequest(request: Record<string, unknown>): string | undefined {
  if (typeof request.uid !== 'string' || request.uid === '') return 'request.uid: required string is missing';
  if (!OPERATIONS.includes(request.operation as Operation)) {
    return `request.operation: must be one of ${OPERATIONS.join(', ')} (got ${JSON.stringify(request.operation)})`;
  }
  if (!isRecord(request.kind)) return 'request.kind: required object is missing';
  if (!isRecord(request.resource)) return 'request.resource: required object is missing';
  return (
    checkStrings(request.kind, 'request.kind', ['group', 'version', 'kind']) ??
    checkStrings(request.resource, 'request.resource', ['group', 'version', 'resource']) ??
    checkUserInfo(request.userInfo) ??
    checkOptionalFields(request)
  );
}

function checkOptionalFields(request: Record<string, unknown>): string | undefined {
  for (const field of ['name', 'namespace', 'subResource'] as const) {
    if (request[field] !== undefined && typeof request[field] !== 'string') return `request.${field}: must be a string`;
  }
  if (request.dryRun !== undefined && typeof request.dryRun !== 'boolean') return 'request.dryRun: must be a boolean';
  return checkObjectField(request, 'object') ?? checkObjectField(request, 'oldObject') ?? checkObjectField(request, 'options');
}

export function decodeReview(body: unknown): DecodeResult {
  if (!isRecord(body)) return fail('body: must be a JSON object (an admission.k8s.io/v1 AdmissionReview)');
  if (body.apiVersion !== 'admission.k8s.io/v1') {
    return fail(`apiVersion: must be "admission.k8s.io/v1" (got ${JSON.stringify(body.apiVersion ?? null)})`);
  }
  if (body.kind !== 'AdmissionReview') {
    return fail(`kind: must be "AdmissionReview" (got ${JSON.stringify(body.kind ?? null)})`);
  }
  if (!isRecord(body.request)) return fail('request: required object is missing');
  const problem = checkRequest(body.request);
  if (problem !== undefined) return fail(problem);
  const request = body.request as unknown as AdmissionRequest;
  // The apiserver may omit groups; the core relies on a list.
  (request.userInfo as { groups?: string[] }).groups ??= [];
  return { ok: true, request };
}
