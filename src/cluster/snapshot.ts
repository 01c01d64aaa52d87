// Reads a static picture of a cluster: a `kind: List`, a JSON document, or a multi-document YAML stream.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../kube/types.js';

function isObject(value: unknown): value is KubeObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function flatten(value: unknown, path: string, out: KubeObject[]): void {
  if (value === null || value === undefined) return;
  if (!isObject(value)) throw new Error(`${path}: expected a Kubernetes object, found ${Array.isArray(value) ? 'a list' : typeof value}`);
  if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    (value.items as unknown[]).forEach((item, i) => { flatten(item, `${path}.items[${i}]`, out); });
    return;
  }
  if (typeof value.kind !== 'string') throw new Error(`${path}: object has no kind`);
  out.push(value);
}

export function parseClusterSnapshot(text: string, source: string): KubeObject[] {
  const objects: KubeObject[] = [];
  const documents = parseAllDocuments(text);
  if (!Array.isArray(documents)) throw new Error(`${source}: not a YAML or JSON stream`);
  documents.forEach((doc, index) => {
    const error = doc.errors[0];
    if (error !== undefined) {
      const at = error.linePos?.[0];
      throw new Error(`${source}${at === undefined ? '' : `:${at.line}:${at.col}`}: ${error.message.split('\n')[0] ?? ''}`);
    }
    flatten(doc.toJS() as unknown, `${source}[document ${index}]`, objects);
  });
  return objects;
}

export async function readClusterSnapshot(path: string): Promise<KubeObject[]> {
  return parseClusterSnapshot(await readFile(path, 'utf8'), path);
}
