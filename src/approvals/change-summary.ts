// What a gated action would change, computed by the guard for the human who approves it: the new object of a
// CREATE, the changed fields of an UPDATE, the options of a CONNECT. Bounded, and Secret values never leave.
import type { AdmissionRequest, KubeObject } from '../kube/types.js';

export interface ChangeSummary {
  /** `path: before -> after`, one line per changed leaf (UPDATE), or `path: value` (CREATE, CONNECT). */
  lines: string[];
  truncated: boolean;
}

const MAX_LINES = 60;
const MAX_VALUE = 160;
// The CRD refuses longer lines (a refused request would fail the agent's attempt closed, but say nothing useful).
const MAX_LINE = 500;
const NOISE = new Set(['metadata.managedFields', 'metadata.resourceVersion', 'metadata.generation', 'metadata.uid', 'metadata.creationTimestamp', 'status']);

function show(value: unknown): string {
  const text = value === undefined ? '(none)' : JSON.stringify(value);
  return text.length > MAX_VALUE ? `${text.slice(0, MAX_VALUE - 1)}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Leaves of a JSON value by dotted path; lists are leaves (shown whole, bounded). */
function leaves(value: unknown, path: string, out: Map<string, unknown>): void {
  if (NOISE.has(path)) return;
  if (isRecord(value) && Object.keys(value).length > 0) {
    for (const [key, item] of Object.entries(value)) leaves(item, path === '' ? key : `${path}.${key}`, out);
    return;
  }
  out.set(path, value);
}

function redacted(object: KubeObject | null | undefined, secret: boolean): KubeObject | undefined {
  if (object === null || object === undefined) return undefined;
  if (!secret) return object;
  const hide = (data: unknown): unknown => (isRecord(data) ? Object.fromEntries(Object.keys(data).map((k) => [k, '(redacted)'])) : data);
  return { ...object, data: hide(object.data), stringData: hide(object.stringData) };
}

function bounded(lines: string[]): ChangeSummary {
  const cut = lines.slice(0, MAX_LINES).map((line) => (line.length > MAX_LINE ? `${line.slice(0, MAX_LINE - 1)}…` : line));
  return { lines: cut, truncated: lines.length > MAX_LINES };
}

export function summarizeChange(request: AdmissionRequest): ChangeSummary | undefined {
  const secret = request.resource.group === '' && request.resource.resource === 'secrets';
  const after = new Map<string, unknown>();
  const before = new Map<string, unknown>();
  leaves(redacted(request.object, secret), '', after);
  if (request.operation === 'CREATE' || request.operation === 'CONNECT') {
    return bounded([...after].map(([path, value]) => `${path}: ${show(value)}`));
  }
  if (request.operation !== 'UPDATE') return undefined;
  leaves(redacted(request.oldObject, secret), '', before);
  const paths = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changed = paths.filter((p) => JSON.stringify(before.get(p)) !== JSON.stringify(after.get(p)));
  return bounded(changed.map((p) => `${p}: ${show(before.get(p))} -> ${show(after.get(p))}`));
}
