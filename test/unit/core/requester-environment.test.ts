import { describe, expect, it } from '@jest/globals';
import type { AdmissionRequest } from '../../../src/kube/types.js';
import { environmentResolver } from '../../../src/core/environment.js';
import { agentMatcher, parseServiceAccount } from '../../../src/core/requester.js';
import { defaultPolicy, heldOutReview } from '../../helpers/fixtures.js';

describe('requester classification', () => {
  const matcher = agentMatcher({ serviceAccounts: ['agents/*', '*/ci-bot-?'], usernames: ['bot-*'], groups: ['countersign:agents'] });

  it('matches service accounts by namespace/name globs, usernames and groups', () => {
    expect(matcher.classify({ username: 'system:serviceaccount:agents:coder', groups: [] }).isAgent).toBe(true);
    expect(matcher.classify({ username: 'system:serviceaccount:team-a:ci-bot-1', groups: [] }).isAgent).toBe(true);
    expect(matcher.classify({ username: 'system:serviceaccount:team-a:ci-bot-12', groups: [] }).isAgent).toBe(false);
    expect(matcher.classify({ username: 'bot-claude', groups: [] }).matchedBy).toBe('username bot-claude');
    expect(matcher.classify({ username: 'alice', groups: ['countersign:agents'] }).matchedBy).toBe('group countersign:agents');
  });

  it('does not treat humans, controllers or look-alike names as agents', () => {
    expect(matcher.classify({ username: 'sre-a', groups: ['sre'] }).isAgent).toBe(false);
    expect(matcher.classify({ username: 'system:serviceaccount:kube-system:namespace-controller', groups: [] }).isAgent).toBe(false);
    expect(matcher.classify({ username: 'system:serviceaccount:agentsx:coder', groups: [] }).isAgent).toBe(false);
    expect(parseServiceAccount('system:serviceaccount:a:b:c')).toBeUndefined();
  });
});

describe('environment resolution', () => {
  const withNamespace = (name: string, resource = 'configmaps'): AdmissionRequest => ({
    ...heldOutReview('agent-create-production-configmap').request,
    namespace: name,
    resource: { group: '', version: 'v1', resource },
  });

  it('prefers the label, then name patterns, then the default; cluster-scoped objects are production', async () => {
    const resolver = environmentResolver((await defaultPolicy()).config.environments);
    const labelled = { metadata: { name: 'anything', labels: { environment: 'staging' } } };
    expect(resolver.resolve(withNamespace('anything'), labelled)).toBe('staging');
    expect(resolver.resolve(withNamespace('prod-eu'), undefined)).toBe('production');
    expect(resolver.resolve(withNamespace('scratch'), undefined)).toBe('development');
    const misspelled = { metadata: { name: 'shop', labels: { environment: 'Production' } } };
    expect(resolver.resolve(withNamespace('shop'), misspelled)).toBe('production');
    const crd = heldOutReview('agent-delete-crd').request;
    expect(resolver.resolve(crd, undefined)).toBe('production');
  });
});
