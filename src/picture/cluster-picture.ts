// The port through which the edge reads the cluster picture. A live one (kube-picture.ts) is filled by watches;
// a static one is built from a snapshot file for offline evaluation and tests.
import { toEntry } from '../core/picture-view/entry.js';
import { PictureIndex, type PictureView } from '../core/picture-view/picture-index.js';

export interface PictureStatus {
  /** True once every watched resource has listed completely and none has gone stale since. */
  ready: boolean;
  /** When not ready: why, naming the resources concerned, for the refusal message. */
  reason?: string;
  objects: number;
  resources: number;
  /** Seconds since the stalest resource was last confirmed current (0 for a static picture). */
  ageSeconds: number;
  /**
   * API groups discovery could not describe (an aggregated API server not answering): the picture may lack their
   * objects, so a namespace's contents cannot be counted with confidence.
   */
  unknownGroups?: readonly string[];
}

export interface ClusterPicture {
  readonly view: PictureView;
  status(): PictureStatus;
  close(): Promise<void>;
}

const IRREGULAR_PLURALS: Record<string, string> = { endpoints: 'endpoints' };

/** The plural resource name Kubernetes gives a kind by default (a snapshot has kinds, the picture wants resources). */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  const irregular = IRREGULAR_PLURALS[lower];
  if (irregular !== undefined) return irregular;
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string' || !apiVersion.includes('/')) return '';
  return apiVersion.slice(0, apiVersion.indexOf('/'));
}

/** A fixed picture: every object of a snapshot, always ready. */
export function staticPicture(objects: readonly unknown[]): ClusterPicture {
  const index = new PictureIndex();
  for (const object of objects) {
    const { apiVersion, kind } = (object ?? {}) as { apiVersion?: unknown; kind?: unknown };
    if (typeof kind !== 'string') continue;
    const group = groupOf(apiVersion);
    const entry = toEntry(group === '' ? pluralOf(kind) : `${pluralOf(kind)}.${group}`, object);
    if (entry !== undefined) index.upsert(entry);
  }
  return {
    view: index,
    status: () => ({ ready: true, objects: index.size, resources: 0, ageSeconds: 0 }),
    close: () => Promise.resolve(),
  };
}
