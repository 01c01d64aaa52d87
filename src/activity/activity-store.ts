// The port to agents' activity records. Every replica reads and writes the same record, so a write names the
// version it read: a concurrent write makes it fail, and the caller reads again (compare-and-swap).
import type { ActivityRecord } from '../core/activity.js';

export interface StoredActivity extends ActivityRecord {
  /** The version read; undefined when the agent has no record yet (the write then creates it). */
  version?: string;
}

export interface ActivityStore {
  read(agent: string): Promise<StoredActivity>;
  /** False when someone else wrote since `version` was read. */
  write(agent: string, record: ActivityRecord, version: string | undefined): Promise<boolean>;
}

function copy(record: ActivityRecord): ActivityRecord {
  return structuredClone(record);
}

/** One process's records: offline evaluation, `serve --cluster`, tests. Counts its reads and writes. */
export function memoryActivityStore(): ActivityStore & { calls: number } {
  const records = new Map<string, { record: ActivityRecord; version: number }>();
  const store = {
    calls: 0,
    read(agent: string): Promise<StoredActivity> {
      store.calls += 1;
      const held = records.get(agent);
      return Promise.resolve(held === undefined ? { buckets: [], leases: [], peaks: [] } : { ...copy(held.record), version: String(held.version) });
    },
    write(agent: string, record: ActivityRecord, version: string | undefined): Promise<boolean> {
      store.calls += 1;
      const held = records.get(agent);
      if ((held === undefined ? undefined : String(held.version)) !== version) return Promise.resolve(false);
      records.set(agent, { record: copy(record), version: (held?.version ?? 0) + 1 });
      return Promise.resolve(true);
    },
  };
  return store;
}
