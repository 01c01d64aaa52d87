// JSON numbers arrive as JS doubles, but Kubernetes' CEL sees integral JSON numbers as `int`: without this,
// `object.spec.replicas / 2` fails with "no such overload dyn<double> / int".

/** Deep-copies a JSON value for CEL, turning every integral number into a BigInt. */
export function toCel(value: unknown): unknown {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(toCel);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // Assigning "__proto__" would set the prototype instead of adding the (agent-controlled) key.
      if (key === '__proto__') Object.defineProperty(out, key, { value: toCel(item), enumerable: true, writable: true, configurable: true });
      else out[key] = toCel(item);
    }
    return out;
  }
  return value;
}

/** Turns a CEL result back into plain JSON-friendly values (BigInt to number) for messages and logs. */
export function fromCel(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(fromCel);
  if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), fromCel(v)]));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fromCel(v)]));
  }
  return value;
}
