// Kubernetes objects, reviews and our own records leave a field out rather than set it to undefined (JSON has no
// undefined, and exactOptionalPropertyTypes keeps the two apart): `...present({ namespace, picture })` keeps the
// fields that have a value, in place of one `...(x === undefined ? {} : { x })` per field.
type Present<T> = { [K in keyof T as undefined extends T[K] ? never : K]: T[K] } & {
  [K in keyof T as undefined extends T[K] ? K : never]?: Exclude<T[K], undefined>;
};

export function present<T extends object>(fields: T): Present<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out as Present<T>;
}
