// Issue 13, the other side: judging effects must not slow low-risk work. An agent's ordinary development work passes
// without a word from Countersign, and a single production ConfigMap patch passes with one audit warning.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mustKubectl, freshAgent, removeFreshAgent } from './kube.ts';
import { agentUser, attempt, cleanUp, deployment, environmentNamespace, expectAllowedQuietly, field, readBack } from './effects-kit.ts';

const DEV = 'fx-ord-dev';
const PROD = 'fx-ord-prod';
// An agent of its own: other suites' pending approval requests count against the harness agents.
const AGENT = 'fx-ordinary-bot';

beforeAll(() => {
  freshAgent(AGENT);
  environmentNamespace(DEV, 'development');
  environmentNamespace(PROD, 'production');
  mustKubectl('admin', ['create', 'configmap', 'settings', '-n', PROD, '--from-literal=LOG_LEVEL=info']);
});

afterAll(() => { cleanUp([DEV, PROD], []); removeFreshAgent(AGENT); });

describe('an agent\'s ordinary development work passes untouched', () => {
  it('creates, patches and deletes a Deployment', () => {
    expectAllowedQuietly(attempt(AGENT, ['apply', '-f', '-'], JSON.stringify(deployment('app', DEV, 2))));
    expectAllowedQuietly(attempt(AGENT, ['set', 'image', 'deployment/app', 'app=registry.example.com/app:2', '-n', DEV]));
    expectAllowedQuietly(attempt(AGENT, ['patch', 'deployment', 'app', '-n', DEV, '--type=json', '-p', '[{"op":"add","path":"/spec/template/spec/containers/0/command","value":["/app","--verbose"]}]']));
    expectAllowedQuietly(attempt(AGENT, ['scale', 'deployment', 'app', '-n', DEV, '--replicas=0']));
    expect(field('deployment', 'app', DEV, '.spec.template.spec.containers[0].command[1]')).toBe('--verbose');
    expectAllowedQuietly(attempt(AGENT, ['delete', 'deployment', 'app', '-n', DEV]));
    expect(readBack('deployment', 'app', DEV)).toBeUndefined();
  });

  it('creates, patches and deletes a ConfigMap and a Secret', () => {
    expectAllowedQuietly(attempt(AGENT, ['create', 'configmap', 'conf', '-n', DEV, '--from-literal=a=1']));
    expectAllowedQuietly(attempt(AGENT, ['patch', 'configmap', 'conf', '-n', DEV, '--type=merge', '-p', '{"data":{"a":"2"}}']));
    expectAllowedQuietly(attempt(AGENT, ['create', 'secret', 'generic', 'token', '-n', DEV, '--from-literal=t=s3cret']));
    expectAllowedQuietly(attempt(AGENT, ['patch', 'secret', 'token', '-n', DEV, '--type=merge', '-p', '{"stringData":{"t":"rotated"}}']));
    expect(field('configmap', 'conf', DEV, '.data.a')).toBe('2');
    expectAllowedQuietly(attempt(AGENT, ['delete', 'configmap', 'conf', '-n', DEV]));
    expectAllowedQuietly(attempt(AGENT, ['delete', 'secret', 'token', '-n', DEV]));
    expect([readBack('configmap', 'conf', DEV), readBack('secret', 'token', DEV)]).toEqual([undefined, undefined]);
  });
});

describe('a single production ConfigMap patch by an agent', () => {
  it('passes with Countersign\'s audit warning, rule production-change and no other', () => {
    const a = attempt(AGENT, ['patch', 'configmap', 'settings', '-n', PROD, '--type=merge', '-p', '{"data":{"LOG_LEVEL":"debug"}}']);
    expect(a.run.code).toBe(0);
    expect(a.run.stderr.match(/Countersign[^\n]*/g)).toEqual([expect.stringMatching(/^Countersign audit \(rule production-change\): /)]);
    expect(a.logged.map((d) => ({ requester: d.requester, decision: d.decision, rule: d.rule, fired: d.fired.map((f) => f.rule) })))
      .toEqual([{ requester: agentUser(AGENT), decision: 'allowed', rule: 'production-change', fired: ['production-change'] }]);
    expect(field('configmap', 'settings', PROD, '.data.LOG_LEVEL')).toBe('debug');
  });
});
