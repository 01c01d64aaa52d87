// Loads fixture reviews and the default policy; every test gets its own deep copy.
import { fileURLToPath } from 'node:url';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AdmissionRequest, KubeObject } from '../../src/kube/types.js';
import { DEFAULT_CONFIG_URL, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { createJudge, type Judge } from '../../src/core/decide.js';
import type { CompiledPolicy } from '../../src/config/policy-types.js';
import { staticPicture, type ClusterPicture } from '../../src/picture/cluster-picture.js';
import type { PictureInput } from '../../src/core/decide.js';
import { workloadAccounts, type IdentityFacts } from '../../src/core/effects/index.js';

const HERE = dirname(fileURLToPath(import.meta.url));

export const HELD_OUT = join(HERE, '..', 'fixtures', 'held-out');

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

export function heldOutNames(): string[] {
  return readdirSync(join(HELD_OUT, 'reviews')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));
}

export function heldOutReview(name: string): { apiVersion: string; kind: string; request: AdmissionRequest } {
  return readJson(join(HELD_OUT, 'reviews', `${name}.json`)) as { apiVersion: string; kind: string; request: AdmissionRequest };
}

export function heldOutNamespaces(): KubeObject[] {
  return (readJson(join(HELD_OUT, 'cluster.json')) as { items: KubeObject[] }).items;
}

export async function defaultPolicy(): Promise<CompiledPolicy> {
  const result = await loadConfigFile(DEFAULT_CONFIG_URL);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.policy;
}

export async function defaultJudge(): Promise<Judge> {
  return createJudge(await defaultPolicy());
}

export function judgeFrom(yaml: string): Judge {
  const result = loadConfigText(yaml, 'test.yaml');
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return createJudge(result.policy);
}

export function namespaceNamed(name: string): KubeObject | undefined {
  return heldOutNamespaces().find((ns) => ns.metadata?.name === name);
}

/** A synced picture of an empty cluster: a DELETE's impact is its own object. */
export const EMPTY_CLUSTER: ClusterPicture = staticPicture([]);
export const EMPTY_PICTURE: PictureInput = { view: EMPTY_CLUSTER.view };
/** What the edge hands the core for an agent with no recent deletes, in an empty cluster. */
export const OFFLINE = { picture: EMPTY_PICTURE, activity: { now: 0, buckets: [], peaks: [], retentionMs: 3_600_000 } };

/** Identity facts for a cluster where no one holds a dangerous right: every workload identity and the agent. */
export function noRights(request: AdmissionRequest): IdentityFacts {
  return { workloads: workloadAccounts(request).map((account) => ({ ...account, rights: [] })), agentRights: [] };
}

/** OFFLINE, plus the identities of `request`'s workloads answered as holding nothing. */
export function offline(request: AdmissionRequest): typeof OFFLINE & { identities: IdentityFacts } {
  return { ...OFFLINE, identities: noRights(request) };
}
