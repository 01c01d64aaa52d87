// What `kubectl countersign agent-credentials` refuses before it touches the cluster, and the Role it grants.
import { describe, expect, it } from '@jest/globals';
import { credentialProblems, type CredentialsRequest } from '../../../src/plugin/agent-credentials.js';
import { AGENT_ROLE_RULES } from '../../../src/plugin/agent-role.js';
import { defaultPolicy } from '../../helpers/fixtures.js';

async function request(overrides: Partial<CredentialsRequest> = {}): Promise<CredentialsRequest> {
  return { agent: 'session-1', agentsNamespace: 'agents', namespaces: ['shop-dev'], ttlSeconds: 3600, owner: 'sre-a', config: (await defaultPolicy()).config, ...overrides };
}

describe('agent-credentials', () => {
  it('accepts a session in the agents namespace for named namespaces and a bounded time', async () => {
    expect(credentialProblems(await request())).toEqual([]);
  });

  it('refuses what the guard would not see, Countersign\'s namespace, and unbounded tokens', async () => {
    expect(credentialProblems(await request({ agentsNamespace: 'team' }))).toEqual([
      'team/session-1 would not be an agent under Countersign\'s configuration (agents.serviceAccounts); the guard would not see it',
    ]);
    expect(credentialProblems(await request({ namespaces: ['countersign'] }))).toEqual(["--namespace: not Countersign's own namespace (countersign)"]);
    expect(credentialProblems(await request({ namespaces: [] }))[0]).toContain('which namespaces');
    expect(credentialProblems(await request({ ttlSeconds: 7 * 24 * 3600 }))).toEqual(['--ttl: between 10m and 24h']);
    expect(credentialProblems(await request({ agent: 'Bad_Name' }))[0]).toContain('not a valid ServiceAccount name');
  });

  it('grants nothing that reaches around the guard', () => {
    const granted = AGENT_ROLE_RULES.flatMap((rule) => rule.resources);
    // It grants application work (so the checks below are not on an empty Role).
    expect(granted).toEqual(expect.arrayContaining(['configmaps', 'deployments']));
    for (const forbidden of ['secrets', 'serviceaccounts', 'serviceaccounts/token', 'roles', 'rolebindings', 'pods/exec', 'pods/attach', '*']) {
      expect(granted).not.toContain(forbidden);
    }
    expect(AGENT_ROLE_RULES.flatMap((rule) => rule.verbs)).not.toContain('impersonate');
    expect(AGENT_ROLE_RULES.flatMap((rule) => rule.verbs)).not.toContain('escalate');
  });
});
