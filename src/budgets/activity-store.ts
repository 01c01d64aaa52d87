// The port to agents' activity records. Every replica reads and writes the same record, so a write names the
// version it read: a concurrent write makes it fail, and the caller reads again (compare-and-swap).
import type { ActivityEntry } from '../core/activity.js';

export interface StoredActivity {
  deletes: ActivityEntry[];
  /** The version read; undefined when the agent has no record yet (the write then creates it). */
  version?: string;
}

export interface ActivityStore {
  read(agent: string): Promise<StoredActivity>;
  /** False when someone else wrote since `version` was read. */
  write(agent: string, deletes: ActivityEntry[], version: string | undefined): Promise<boolean>;
}

/** One process's records: offline evaluation, `serve --cluster`, tests. */
export function memoryActivityStore(): ActivityStore {
  const records = new Map<string, { deletes: ActivityEntry[]; version: number }>();
  return {
    read(agent) {
      const record = records.get(agent);
      return Promise.resolve(record === undefined ? { deletes: [] } : { deletes: [...record.deletes], version: String(record.version) });
    },
    write(agent, deletes, version) {
      const record = records.get(agent);
      if ((record === undefined ? undefined : String(record.version)) !== version) return Promise.resolve(false);
      records.set(agent, { deletes: [...deletes], version: (record?.version ?? 0) + 1 });
      return Promise.resolve(true);
    },
  };
}
