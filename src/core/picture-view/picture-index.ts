// The in-memory picture of the cluster: every cached object indexed by uid, namespace, resource and owner, so a
// blast radius is a walk over sets, never a scan. Pure data structure; the watches that fill it live elsewhere.
import type { PictureEntry } from './entry.js';

/** What impact computation reads. */
export interface PictureView {
  get(uid: string): PictureEntry | undefined;
  /** How many objects of each resource the namespace holds: a namespace's impact without walking it. */
  countsInNamespace(namespace: string): ReadonlyMap<string, number>;
  /** The namespace's objects of one resource. */
  inNamespaceOf(namespace: string, resource: string): Iterable<PictureEntry>;
  ofResource(resource: string): Iterable<PictureEntry>;
  dependentsOf(uid: string): Iterable<PictureEntry>;
  /** The PersistentVolume bound to the claim `namespace/name`, if the picture has one. */
  volumeForClaim(claim: string): PictureEntry | undefined;
  readonly size: number;
}

function addTo<K>(index: Map<K, Set<string>>, key: K, uid: string): void {
  let set = index.get(key);
  if (set === undefined) {
    set = new Set();
    index.set(key, set);
  }
  set.add(uid);
}

function removeFrom<K>(index: Map<K, Set<string>>, key: K, uid: string): void {
  const set = index.get(key);
  if (set === undefined) return;
  set.delete(uid);
  if (set.size === 0) index.delete(key);
}

export class PictureIndex implements PictureView {
  private readonly byUid = new Map<string, PictureEntry>();
  private readonly byNamespace = new Map<string, Map<string, Set<string>>>();
  private readonly byResource = new Map<string, Set<string>>();
  private readonly byOwner = new Map<string, Set<string>>();
  private readonly volumeByClaim = new Map<string, string>();

  get size(): number {
    return this.byUid.size;
  }

  upsert(entry: PictureEntry): void {
    this.remove(entry.uid);
    this.byUid.set(entry.uid, entry);
    let resources = this.byNamespace.get(entry.namespace);
    if (resources === undefined) {
      resources = new Map();
      this.byNamespace.set(entry.namespace, resources);
    }
    addTo(resources, entry.resource, entry.uid);
    addTo(this.byResource, entry.resource, entry.uid);
    for (const owner of entry.owners ?? []) addTo(this.byOwner, owner, entry.uid);
    if (entry.volume !== undefined && entry.volume.claim !== '') this.volumeByClaim.set(entry.volume.claim, entry.uid);
  }

  remove(uid: string): void {
    const entry = this.byUid.get(uid);
    if (entry === undefined) return;
    this.byUid.delete(uid);
    const resources = this.byNamespace.get(entry.namespace);
    if (resources !== undefined) {
      removeFrom(resources, entry.resource, uid);
      if (resources.size === 0) this.byNamespace.delete(entry.namespace);
    }
    removeFrom(this.byResource, entry.resource, uid);
    for (const owner of entry.owners ?? []) removeFrom(this.byOwner, owner, uid);
    if (entry.volume !== undefined && this.volumeByClaim.get(entry.volume.claim) === uid) this.volumeByClaim.delete(entry.volume.claim);
  }

  /** A fresh complete list of one resource: what is not in it has gone. */
  replaceResource(resource: string, entries: readonly PictureEntry[]): void {
    const fresh = new Set(entries.map((entry) => entry.uid));
    for (const uid of [...(this.byResource.get(resource) ?? [])]) if (!fresh.has(uid)) this.remove(uid);
    for (const entry of entries) this.upsert(entry);
  }

  dropResource(resource: string): void {
    for (const uid of [...(this.byResource.get(resource) ?? [])]) this.remove(uid);
  }

  get(uid: string): PictureEntry | undefined {
    return this.byUid.get(uid);
  }

  countsInNamespace(namespace: string): ReadonlyMap<string, number> {
    const counts = new Map<string, number>();
    for (const [resource, uids] of this.byNamespace.get(namespace) ?? []) counts.set(resource, uids.size);
    return counts;
  }

  inNamespaceOf(namespace: string, resource: string): Iterable<PictureEntry> {
    return this.entries(this.byNamespace.get(namespace)?.get(resource));
  }

  ofResource(resource: string): Iterable<PictureEntry> {
    return this.entries(this.byResource.get(resource));
  }

  dependentsOf(uid: string): Iterable<PictureEntry> {
    return this.entries(this.byOwner.get(uid));
  }

  volumeForClaim(claim: string): PictureEntry | undefined {
    const uid = this.volumeByClaim.get(claim);
    return uid === undefined ? undefined : this.byUid.get(uid);
  }

  private *entries(uids: Set<string> | undefined): Iterable<PictureEntry> {
    for (const uid of uids ?? []) {
      const entry = this.byUid.get(uid);
      if (entry !== undefined) yield entry;
    }
  }
}
