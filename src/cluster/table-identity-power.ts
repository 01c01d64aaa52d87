// Rights from a table by username, for offline evaluation (`countersign evaluate --identities FILE`): nobody can be
// asked there, so the user says what each identity may do. Whoever is not listed holds nothing.
import type { IdentityPower } from './identity-power.js';

export function tableIdentityPower(rights: Readonly<Record<string, readonly string[]>>): IdentityPower {
  return { rightsOf: (identity) => Promise.resolve([...(rights[identity.username] ?? [])].sort()) };
}
