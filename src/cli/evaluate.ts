// `countersign evaluate`: the same core, offline. Prints the AdmissionReview answer; exit 0 whatever it decided.
import { readFile } from 'node:fs/promises';
import { handleReview } from '../webhook/handle-review.js';
import { staticNamespaceDirectory } from '../cluster/namespace-directory.js';
import { parseClusterSnapshot, readClusterSnapshot } from '../cluster/snapshot.js';
import { DEFAULT_CONFIG_URL, loadConfigFile } from '../config/load.js';
import { createJudge } from '../core/decide.js';
import { createLogger } from '../observability/logger.js';
import { staticPicture } from '../picture/cluster-picture.js';
import { memoryActivityStore } from '../activity/activity-store.js';
import { tableIdentityPower } from '../cluster/table-identity-power.js';
import type { EvaluateSettings } from './args.js';
import { UsageError } from './args.js';
import { present } from '../kube/present.js';

async function readText(path: string): Promise<string> {
  if (path !== '-') return readFile(path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `{"system:serviceaccount:ns:name": ["delete namespaces", ...]}`: the dangerous rights each identity holds. */
async function readIdentityTable(path: string): Promise<Record<string, readonly string[]>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error: unknown) {
    throw new UsageError([`--identities: ${path}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  const problems: string[] = [];
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) problems.push(`--identities: ${path}: must be an object of username -> list of rights`);
  const table: Record<string, readonly string[]> = {};
  for (const [user, rights] of Object.entries(problems.length === 0 ? (parsed as Record<string, unknown>) : {})) {
    if (Array.isArray(rights) && rights.every((r) => typeof r === 'string')) table[user] = rights;
    else problems.push(`--identities: ${path}: ${user}: must be a list of right names (strings)`);
  }
  if (problems.length > 0) throw new UsageError(problems);
  return table;
}

export async function evaluate(settings: EvaluateSettings): Promise<string> {
  const loaded = await loadConfigFile(settings.config ?? DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new UsageError(['the configuration was refused:', ...loaded.errors]);
  const objects = settings.cluster === undefined ? [] : await readClusterSnapshot(settings.cluster);
  // A review may be YAML as well as JSON: the snapshot reader accepts both and yields the one document.
  const [review] = parseClusterSnapshot(await readText(settings.review), settings.review);
  if (review === undefined) throw new UsageError([`${settings.review}: holds no AdmissionReview`]);
  const judge = createJudge(loaded.policy);
  const identities = settings.identities === undefined ? undefined : tableIdentityPower(await readIdentityTable(settings.identities));
  const result = await handleReview(review, {
    judge: () => judge,
    namespaces: staticNamespaceDirectory(objects),
    // The snapshot is the whole cluster as far as offline evaluation knows: impact is counted within it.
    picture: staticPicture(objects),
    // Offline, the agent has done nothing yet: a budget counts this request alone.
    activity: { store: memoryActivityStore(), now: () => new Date() },
    log: createLogger('silent'),
    // Without --identities, a workload's identity cannot be checked offline, and the agent is refused for it.
    ...present({ identities }),
  });
  if (result.status !== 200) throw new UsageError([`${settings.review}: ${result.body.error}`]);
  return JSON.stringify(result.body, null, 2);
}
