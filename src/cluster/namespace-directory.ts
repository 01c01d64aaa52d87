// The port through which the edge learns about Namespaces. The core never sees it: the handler looks the
// namespace up and hands the object to the decision.
import type { KubeObject } from '../kube/types.js';

export interface NamespaceDirectory {
  /**
   * False until the first complete list has arrived: agents' requests are refused until then. It stays true after
   * that: a directory that loses its source answers `get` by other means or throws, it does not become unready.
   */
  isReady(): boolean;
  /** The namespace, or undefined if it does not exist. Throws when it cannot tell (fail closed for agents). */
  get(name: string): Promise<KubeObject | undefined>;
  close(): Promise<void>;
}

/** A fixed set of namespaces: `--cluster FILE` for local runs, `countersign evaluate`, and tests. */
export function staticNamespaceDirectory(objects: readonly KubeObject[]): NamespaceDirectory {
  const byName = new Map<string, KubeObject>();
  for (const object of objects) {
    const name = object.metadata?.name;
    if (object.kind === 'Namespace' && name !== undefined) byName.set(name, object);
  }
  return {
    isReady: () => true,
    get: (name) => Promise.resolve(byName.get(name)),
    close: () => Promise.resolve(),
  };
}
