// An IdentityPower for unit tests of the edge: the offline table (src/cluster/identity-power.ts), with its calls
// recorded and an optional failure. The real one asks the apiserver (tested against a local server and the real
// control plane).
import type { Identity, IdentityPower } from '../../src/cluster/identity-power.js';
import { tableIdentityPower } from '../../src/cluster/table-identity-power.js';

export interface RecordingIdentityPower extends IdentityPower {
  calls: { identity: Identity; namespace: string }[];
}

export function recordingIdentityPower(rights: Record<string, readonly string[]> = {}, failure?: string): RecordingIdentityPower {
  const table = tableIdentityPower(rights);
  const calls: RecordingIdentityPower['calls'] = [];
  return {
    calls,
    rightsOf(identity, namespace) {
      calls.push({ identity, namespace });
      return failure === undefined ? table.rightsOf(identity, namespace) : Promise.reject(new Error(failure));
    },
  };
}
