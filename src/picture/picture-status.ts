// Whether the live picture may be trusted, and if not, a reason precise enough to put in an agent's refusal.
import type { PictureStatus } from './cluster-picture.js';

export interface ResourceState {
  key: string;
  listed: boolean;
  lastConfirmedAt: number | undefined;
  startedAt: number;
}

export interface StatusInput {
  discovered: boolean;
  discoveryError: string | undefined;
  resources: readonly ResourceState[];
  objects: number;
  now: number;
  staleAfterMs: number;
}

// A refusal message names a few resources, not fifty.
const NAMES_SHOWN = 5;

function names(list: readonly string[]): string {
  const shown = list.slice(0, NAMES_SHOWN).join(', ');
  return list.length > NAMES_SHOWN ? `${shown} and ${list.length - NAMES_SHOWN} more` : shown;
}

function ageMs(resource: ResourceState, now: number): number {
  return Math.max(0, now - (resource.lastConfirmedAt ?? resource.startedAt));
}

export function pictureStatus(input: StatusInput): PictureStatus {
  const { resources, now } = input;
  const problems: string[] = [];
  if (!input.discovered) {
    problems.push(`the API server's resources are not yet discovered${input.discoveryError === undefined ? '' : ` (${input.discoveryError})`}`);
  }
  const pending = resources.filter((resource) => !resource.listed).map((resource) => resource.key);
  if (pending.length > 0) problems.push(`${pending.length} ${pending.length === 1 ? 'resource' : 'resources'} not yet listed (${names(pending)})`);
  const stale = resources
    .filter((resource) => resource.listed && ageMs(resource, now) > input.staleAfterMs)
    .sort((a, b) => ageMs(b, now) - ageMs(a, now))
    .map((resource) => `${resource.key} (no word from the API server for ${Math.floor(ageMs(resource, now) / 1000)} s)`);
  if (stale.length > 0) problems.push(`stale: ${names(stale)}`);
  const ageSeconds = resources.reduce((oldest, resource) => Math.max(oldest, ageMs(resource, now)), 0) / 1000;
  const status: PictureStatus = { ready: problems.length === 0, objects: input.objects, resources: resources.length, ageSeconds };
  if (problems.length > 0) status.reason = `cluster picture not ready: ${problems.join('; ')}`;
  return status;
}
