// The apiserver decides who reaches the webhook (matchConditions); the core decides who is an agent.
// They are generated from the same settings and must agree, or humans could be blocked or agents slip past.
import { describe, expect, it } from '@jest/globals';
import { Environment } from '@marcbachmann/cel-js';
import type { Config } from '../../../src/config/schema.js';
import { agentMatcher } from '../../../src/core/requester.js';
import { agentMatchExpression, webhookConfiguration } from '../../../src/deploy/webhook-configuration.js';
import { defaultPolicy } from '../../helpers/fixtures.js';

const users = [
  { username: 'system:serviceaccount:agents:coder', groups: ['system:serviceaccounts'] },
  { username: 'system:serviceaccount:agents:ops-bot', groups: [] },
  { username: 'system:serviceaccount:agentsx:coder', groups: [] },
  { username: 'system:serviceaccount:team:ci-bot-7', groups: [] },
  { username: 'system:serviceaccount:kube-system:namespace-controller', groups: ['system:serviceaccounts'] },
  { username: 'sre-a', groups: ['sre'] },
  { username: 'bot.claude', groups: [] },
  { username: 'botXclaude', groups: [] },
  { username: 'alice', groups: ['countersign:agents'] },
  { username: 'carol', groups: ['ml-agents-eu'] },
  { username: 'oidc:claude@agents.example.com', groups: [] },
  { username: 'dave', groups: ['team:ml:agents'] },
  { username: "o'brien-bot", groups: [] },
  { username: 'CORP\\ai-bot', groups: [] },
  { username: 'CORPXai-bot', groups: [] },
];

function apiserverSays(expression: string, user: { username: string; groups: string[] }): boolean {
  const env = new Environment().registerVariable('request', 'dyn');
  return env.evaluate(expression, { request: { userInfo: user } }) as boolean;
}

describe('matchConditions', () => {
  it.each([
    ['the default agents', undefined],
    ['globs, usernames and group patterns', { serviceAccounts: ['agents/*', '*/ci-bot-?'], usernames: ['bot.claude'], groups: ['countersign:agents', 'ml-*'] }],
    ['patterns spanning colons and quotes', { serviceAccounts: [], usernames: ['*@agents.example.com', "o'brien-*"], groups: ['team:*'] }],
    ['a backslash, literal in a glob', { serviceAccounts: [], usernames: ['CORP\\ai-*'], groups: [] }],
  ])('agree with the core for %s', async (_label, agents: Config['agents'] | undefined) => {
    const settings = agents ?? (await defaultPolicy()).config.agents;
    const expression = agentMatchExpression(settings);
    const matcher = agentMatcher(settings);
    for (const user of users) {
      expect([user.username, apiserverSays(expression, user)]).toEqual([user.username, matcher.classify(user).isAgent]);
    }
  });

  it('asks for CONNECT only when a rule can judge it', async () => {
    const policy = (await defaultPolicy()).config;
    const ops = (config: Config): unknown => (webhookConfiguration(config, { clientConfig: {} }) as { webhooks: { rules: { operations: string[] }[] }[] }).webhooks[0]?.rules[0]?.operations;
    expect(ops(policy)).toEqual(['CREATE', 'UPDATE', 'DELETE', 'CONNECT']);
    expect(ops({ ...policy, rules: [] })).toEqual(['CREATE', 'UPDATE', 'DELETE']);
  });

  it('renders the production settings: Fail, NoneOnDryRun, a short timeout, every resource and subresource', async () => {
    const config = webhookConfiguration((await defaultPolicy()).config, { clientConfig: { url: 'https://127.0.0.1:1/validate' } });
    expect(config).toMatchObject({
      kind: 'ValidatingWebhookConfiguration',
      webhooks: [
        { name: 'agents.countersign.dev', failurePolicy: 'Fail', sideEffects: 'NoneOnDryRun', timeoutSeconds: 5, rules: [{ resources: ['*/*'], operations: ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'] }] },
        {
          name: 'approvals.countersign.dev', failurePolicy: 'Fail', sideEffects: 'None',
          rules: [{ apiGroups: ['countersign.dev'], resources: ['approvals', 'approvals/status', 'approvalrequests', 'approvalrequests/status'] }],
          matchConditions: [{ expression: "request.userInfo.username != 'system:serviceaccount:countersign:countersign'" }],
        },
      ],
    });
  });
});
