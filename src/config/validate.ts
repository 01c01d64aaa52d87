// A small structural validator: it applies defaults and reports every problem at once, each with its field path.
// Hand-written rather than a JSON-schema library so the messages read like kubectl's ("rules[2].tier: ...").

export type Spec =
  | { kind: 'string'; default?: string; nonEmpty?: boolean; oneOf?: readonly string[]; pattern?: RegExp; patternHelp?: string }
  | { kind: 'int'; default?: number; min?: number; max?: number }
  | { kind: 'bool'; default?: boolean }
  | { kind: 'list'; of: Spec; default?: readonly unknown[]; nonEmpty?: boolean }
  | {
      kind: 'object';
      fields: Record<string, Spec>;
      required?: readonly string[];
      optional?: boolean;
      /** Old field names still read, each with its new name: a warning, never an error, while both are accepted. */
      renamed?: Readonly<Record<string, string>>;
    }
  | { kind: 'map'; of: Spec; default?: Readonly<Record<string, unknown>> }
  | { kind: 'any'; default?: unknown };

/** What `check` returns for a spec: fields with a default, required ones and nested objects always present. */
export type FromSpec<S> = S extends { kind: 'string'; oneOf: readonly (infer U)[] }
  ? U
  : S extends { kind: 'string' }
    ? string
    : S extends { kind: 'int' }
      ? number
      : S extends { kind: 'bool' }
        ? boolean
        : S extends { kind: 'list'; of: infer O }
          ? FromSpec<O>[]
          : S extends { kind: 'map'; of: infer O }
            ? Record<string, FromSpec<O>>
            : S extends { kind: 'object'; fields: infer F }
              ? ObjectOf<F, S extends { required: readonly (infer R)[] } ? R : never>
              : unknown;

type AlwaysPresent<S> = S extends { default: unknown } ? true : S extends { kind: 'object'; optional: true } ? false : S extends { kind: 'object' } ? true : false;
type PresentKeys<F, R> = { [K in keyof F]: K extends R ? K : AlwaysPresent<F[K]> extends true ? K : never }[keyof F];
type Flatten<T> = { [K in keyof T]: T[K] };
type ObjectOf<F, R> = Flatten<{ [K in PresentKeys<F, R>]: FromSpec<F[K]> } & { [K in Exclude<keyof F, PresentKeys<F, R>>]?: FromSpec<F[K]> }>;

export interface ValidationError {
  path: string;
  message: string;
  /** A deprecation: reported, and the document is still accepted. */
  warning?: true;
}

/** The problems that refuse a document (deprecations aside). */
export function refusals(problems: readonly ValidationError[]): ValidationError[] {
  return problems.filter((p) => p.warning !== true);
}

export function formatErrors(errors: readonly ValidationError[]): string {
  return errors.map((e) => `${e.path === '' ? '(root)' : e.path}: ${e.message}`).join('\n');
}

function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  return typeof value === 'object' ? 'object' : typeof value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkString(spec: Extract<Spec, { kind: 'string' }>, value: unknown, path: string, errors: ValidationError[]): unknown {
  if (typeof value !== 'string') {
    errors.push({ path, message: `must be a string (got ${typeName(value)})` });
  } else if (spec.nonEmpty === true && value === '') {
    errors.push({ path, message: 'must not be empty' });
  } else if (spec.oneOf !== undefined && !spec.oneOf.includes(value)) {
    errors.push({ path, message: `must be one of ${spec.oneOf.join(', ')} (got ${JSON.stringify(value)})` });
  } else if (spec.pattern !== undefined && !spec.pattern.test(value)) {
    errors.push({ path, message: `must be ${spec.patternHelp ?? `like ${String(spec.pattern)}`} (got ${JSON.stringify(value)})` });
  }
  return value;
}

function checkInt(spec: Extract<Spec, { kind: 'int' }>, value: unknown, path: string, errors: ValidationError[]): unknown {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    errors.push({ path, message: `must be a whole number (got ${JSON.stringify(value)})` });
  } else if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
    errors.push({ path, message: `must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'} (got ${value})` });
  }
  return value;
}

function checkList(spec: Extract<Spec, { kind: 'list' }>, value: unknown, path: string, errors: ValidationError[]): unknown {
  if (!Array.isArray(value)) {
    errors.push({ path, message: `must be a list (got ${typeName(value)})` });
    return value;
  }
  if (spec.nonEmpty === true && value.length === 0) errors.push({ path, message: 'must not be empty' });
  return value.map((item, index) => check(spec.of, item, join(path, index), errors));
}

/** The source with each deprecated field read under its new name; setting both is an error, not a guess. */
function renamedFields(source: Record<string, unknown>, renamed: Readonly<Record<string, string>>, path: string, errors: ValidationError[]): { given: Record<string, unknown>; nameOf: Record<string, string> } {
  const given = { ...source };
  // Only the schema's fields are read from `given`, so the old name needs no removing. A value given under the old
  // name is reported under the name it was given.
  const nameOf: Record<string, string> = {};
  for (const [old, current] of Object.entries(renamed)) {
    if (source[old] === undefined) continue;
    if (source[current] !== undefined) {
      errors.push({ path: join(path, old), message: `is the deprecated name of ${join(path, current)}; set only ${current}` });
    } else {
      errors.push({ path: join(path, old), message: `is deprecated: renamed to ${join(path, current)} (still read; rename it)`, warning: true });
      given[current] = source[old];
      nameOf[current] = old;
    }
  }
  return { given, nameOf };
}

function unknownFields(source: Record<string, unknown>, spec: Extract<Spec, { kind: 'object' }>, path: string, errors: ValidationError[]): void {
  for (const key of Object.keys(source)) {
    if (!(key in spec.fields) && !(key in (spec.renamed ?? {}))) {
      errors.push({ path: join(path, key), message: `unknown field (known: ${Object.keys(spec.fields).join(', ')})` });
    }
  }
}

function checkObject(spec: Extract<Spec, { kind: 'object' }>, value: unknown, path: string, errors: ValidationError[]): unknown {
  if (value === undefined && spec.optional === true) return undefined;
  const source = value ?? {};
  if (!isRecord(source)) {
    errors.push({ path, message: `must be an object (got ${typeName(source)})` });
    return value;
  }
  const out: Record<string, unknown> = {};
  const renamed = spec.renamed ?? {};
  unknownFields(source, spec, path, errors);
  const { given, nameOf } = renamedFields(source, renamed, path, errors);
  for (const [key, fieldSpec] of Object.entries(spec.fields)) {
    const present = given[key] !== undefined && given[key] !== null;
    if (!present && spec.required?.includes(key) === true) {
      errors.push({ path: join(path, key), message: 'required field is missing' });
      continue;
    }
    const checked = check(fieldSpec, given[key], join(path, nameOf[key] ?? key), errors);
    if (checked !== undefined) out[key] = checked;
  }
  return out;
}

function checkMap(spec: Extract<Spec, { kind: 'map' }>, value: unknown, path: string, errors: ValidationError[]): unknown {
  if (!isRecord(value)) {
    errors.push({ path, message: `must be an object (got ${typeName(value)})` });
    return value;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = check(spec.of, item, join(path, key), errors);
  return out;
}

function defaultOf(spec: Spec): unknown {
  if (spec.kind === 'object') return spec.optional === true ? undefined : {};
  return structuredClone(spec.default);
}

/** Validates `value` against `spec`, filling defaults; problems are appended to `errors`. */
export function check(spec: Spec, value: unknown, path: string, errors: ValidationError[]): unknown {
  if (value === undefined || value === null) {
    const fallback = defaultOf(spec);
    if (fallback === undefined) return undefined;
    if (spec.kind !== 'object') return fallback;
  }
  switch (spec.kind) {
    case 'string':
      return checkString(spec, value, path, errors);
    case 'int':
      return checkInt(spec, value, path, errors);
    case 'bool':
      if (typeof value !== 'boolean') errors.push({ path, message: `must be true or false (got ${JSON.stringify(value)})` });
      return value;
    case 'list':
      return checkList(spec, value, path, errors);
    case 'object':
      return checkObject(spec, value, path, errors);
    case 'map':
      return checkMap(spec, value, path, errors);
    case 'any':
      return value;
  }
}
