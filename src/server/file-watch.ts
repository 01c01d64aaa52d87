// Polls files for content changes. Polling (not fs.watch) because Kubernetes mounts Secrets and ConfigMaps
// through symlink swaps that inotify-based watchers miss; hashing means a touch without a change is ignored.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface FileWatch {
  stop(): void;
}

async function fingerprint(paths: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    try {
      hash.update(await readFile(path));
    } catch {
      hash.update(`missing:${path}`);
    }
  }
  return hash.digest('hex');
}

/** `onChange` answers whether it accepted the new content; refused content is offered again on the next poll. */
export function watchFiles(paths: readonly string[], intervalMs: number, onChange: () => Promise<boolean>): FileWatch {
  let last: string | undefined;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const now = await fingerprint(paths);
      if (last === undefined || now === last || (await onChange())) last = now;
    } finally {
      busy = false;
    }
  };
  void tick();
  const timer = setInterval(() => { void tick(); }, intervalMs);
  timer.unref();
  return { stop: () => { clearInterval(timer); } };
}
