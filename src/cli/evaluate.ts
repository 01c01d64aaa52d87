// `countersign evaluate`: the same core, offline. Prints the AdmissionReview answer; exit 0 whatever it decided.
import { readFile } from 'node:fs/promises';
import { handleReview } from '../admission/handle-review.js';
import { staticNamespaceDirectory } from '../cluster/namespace-directory.js';
import { parseClusterSnapshot, readClusterSnapshot } from '../cluster/snapshot.js';
import { DEFAULT_CONFIG_URL, loadConfigFile } from '../config/load.js';
import { createJudge } from '../core/decide.js';
import { createLogger } from '../observability/logger.js';
import { staticPicture } from '../picture/cluster-picture.js';
import { memoryActivityStore } from '../budgets/activity-store.js';
import type { EvaluateSettings } from './args.js';
import { UsageError } from './args.js';

async function readText(path: string): Promise<string> {
  if (path !== '-') return readFile(path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function evaluate(settings: EvaluateSettings): Promise<string> {
  const loaded = await loadConfigFile(settings.config ?? DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new UsageError(['the configuration was refused:', ...loaded.errors]);
  const objects = settings.cluster === undefined ? [] : await readClusterSnapshot(settings.cluster);
  // A review may be YAML as well as JSON: the snapshot reader accepts both and yields the one document.
  const [review] = parseClusterSnapshot(await readText(settings.review), settings.review);
  if (review === undefined) throw new UsageError([`${settings.review}: holds no AdmissionReview`]);
  const judge = createJudge(loaded.policy);
  const result = await handleReview(review, {
    judge: () => judge,
    namespaces: staticNamespaceDirectory(objects),
    // The snapshot is the whole cluster as far as offline evaluation knows: impact is counted within it.
    picture: staticPicture(objects),
    // Offline, the agent has done nothing yet: a budget counts this request alone.
    budgets: { store: memoryActivityStore(), now: () => new Date() },
    log: createLogger('silent'),
  });
  if (result.status !== 200) throw new UsageError([`${settings.review}: ${result.body.error}`]);
  return JSON.stringify(result.body, null, 2);
}
