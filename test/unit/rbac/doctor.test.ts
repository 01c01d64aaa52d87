// kubectl countersign doctor's judgement: which agents hold which rights that defeat the guard, and through what.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { DEFAULT_CONFIG_URL, loadConfigFile } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import { diagnose, type AgentReport, type DoctorReport, type Finding } from '../../../src/rbac/index.js';
import { renderDoctor, rightText } from '../../../src/plugin/doctor-report.js';
import { ruleGrants, type BindingObject, type RbacObjects } from '../../../src/rbac/index.js';

const IDENTITIES = new URL('../../harness/identities.yaml', import.meta.url);

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
}

/** The RBAC objects of some YAML documents, sorted into what doctor reads. */
function rbacOf(...texts: string[]): RbacObjects {
  const objects = texts.flatMap((text) => parseAllDocuments(text).map((doc) => doc.toJS() as Manifest | null)).filter((o) => o !== null);
  const ofKind = (kind: string): Manifest[] => objects.filter((o) => o.kind === kind);
  return {
    clusterRoles: ofKind('ClusterRole'),
    roles: ofKind('Role'),
    clusterRoleBindings: ofKind('ClusterRoleBinding') as unknown as BindingObject[],
    roleBindings: ofKind('RoleBinding') as unknown as BindingObject[],
    serviceAccounts: ofKind('ServiceAccount'),
  };
}

let config: Config;
let harness: string;

beforeAll(async () => {
  const loaded = await loadConfigFile(DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
  config = loaded.policy.config;
  harness = readFileSync(IDENTITIES, 'utf8');
});

function doctorOn(rbac: RbacObjects, agents: Partial<Config['agents']> = {}): DoctorReport {
  return diagnose({ rbac, agents: { ...config.agents, ...agents }, countersignNamespace: config.countersignNamespace });
}

function agent(report: DoctorReport, label: string): AgentReport {
  const found = report.agents.find((a) => a.agent === label);
  if (found === undefined) throw new Error(`no agent ${label} in ${report.agents.map((a) => a.agent).join(', ')}`);
  return found;
}

function finding(report: AgentReport, danger: Finding['danger']): Finding {
  const found = report.findings.find((f) => f.danger === danger);
  if (found === undefined) throw new Error(`${report.agent} has no ${danger} finding: ${report.findings.map((f) => f.danger).join(', ')}`);
  return found;
}

const dangers = (report: AgentReport): string[] => report.findings.map((f) => f.danger);

/** coder bound to the admin-like ClusterRole by a RoleBinding in one namespace. */
const coderAdminIn = (namespace: string): string => `
kind: RoleBinding
metadata: {name: coder-admin, namespace: ${namespace}}
roleRef: {kind: ClusterRole, name: admin-like}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
`;

const IMPERSONATOR = readFileSync(new URL('../../fixtures/rbac/impersonator.yaml', import.meta.url), 'utf8');

// The built-in namespace admin's dangerous parts, as kube-apiserver bootstraps them.
const NAMESPACE_ADMIN = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: admin-like}
rules:
  - apiGroups: [""]
    resources: [serviceaccounts]
    verbs: [impersonate]
  - apiGroups: [""]
    resources: [serviceaccounts/token]
    verbs: [create]
  - apiGroups: [""]
    resources: [secrets, configmaps]
    verbs: [get, list, watch, create, update, patch, delete]
  - apiGroups: [rbac.authorization.k8s.io]
    resources: [roles, rolebindings]
    verbs: [create, update, patch, delete]
`;

describe('doctor on the e2e harness RBAC', () => {
  it('finds the agent service accounts, and not Countersign or the humans', () => {
    const report = doctorOn(rbacOf(harness));
    expect(report.agents.map((a) => a.agent)).toEqual([
      'serviceaccount agents/coder', 'serviceaccount agents/ops-bot', 'serviceaccount agents/sweeper', 'group countersign:agents',
    ]);
    expect(agent(report, 'serviceaccount agents/coder').matchedBy).toBe('serviceAccount agents/coder');
  });

  it("flags inherited-engineer's escalate and bind, with the binding and role that grant them", () => {
    const coder = agent(doctorOn(rbacOf(harness)), 'serviceaccount agents/coder');
    const bind = finding(coder, 'bind');
    expect(bind).toMatchObject({
      verbs: ['bind'], scope: 'cluster-wide', why: 'can bind any role to itself, cluster-admin included',
      grantedBy: { binding: 'ClusterRoleBinding agents-inherited-engineer', role: 'ClusterRole inherited-engineer' },
    });
    expect(rightText(bind)).toBe('bind roles,clusterroles (rbac.authorization.k8s.io)');
    expect(rightText(finding(coder, 'escalate'))).toBe('escalate roles,clusterroles (rbac.authorization.k8s.io)');
  });

  it('flags what its wildcard resources reach: secrets, webhook configurations, tokens, approvals, CRDs, Countersign', () => {
    const coder = agent(doctorOn(rbacOf(harness)), 'serviceaccount agents/coder');
    expect(dangers(coder)).toEqual(['escalate', 'bind', 'mint-tokens', 'read-secrets', 'switch-guard-off', 'file-approvals', 'tamper-crds', 'tamper-countersign', 'reroute-api']);
    expect(rightText(finding(coder, 'reroute-api'))).toBe('write apiservices (apiregistration.k8s.io)');
    expect(rightText(finding(coder, 'read-secrets'))).toBe('get,list,watch secrets');
    expect(rightText(finding(coder, 'mint-tokens'))).toBe('create serviceaccounts/token');
    expect(finding(coder, 'switch-guard-off').verbs).toEqual(['create', 'update', 'patch', 'delete', 'deletecollection']);
    expect(rightText(finding(coder, 'switch-guard-off'))).toBe('write validatingwebhookconfigurations,mutatingwebhookconfigurations (admissionregistration.k8s.io) +4 more');
    expect(rightText(finding(coder, 'switch-guard-off'), 6)).toContain(',validatingadmissionpolicybindings,mutatingadmissionpolicies,');
    // Creating approvals is its own finding; tampering lists the rest, approvals' other writes included.
    const tamper = finding(coder, 'tamper-countersign');
    expect(tamper.resources).toContainEqual({ group: 'countersign.dev', resource: 'approvals' });
    expect(tamper.resources).toContainEqual({ group: '', resource: 'namespaces' });
    expect(tamper.verbs).toContain('create');
  });

  it('does not flag impersonation, which inherited-engineer lacks', () => {
    expect(dangers(agent(doctorOn(rbacOf(harness)), 'serviceaccount agents/ops-bot'))).not.toContain('impersonate');
  });

  it('reports a group agent with nothing dangerous as such', () => {
    const report = doctorOn(rbacOf(harness));
    expect(agent(report, 'group countersign:agents').findings).toEqual([]);
    expect(report.summary).toEqual({ agents: 4, findings: 27 });
  });
});

describe('doctor on added rights', () => {
  it('flags approving certificates, which may name a human approver', () => {
    const signer = `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: csr-approver}
rules:
  - {apiGroups: [certificates.k8s.io], resources: [signers], resourceNames: [kubernetes.io/kube-apiserver-client], verbs: [approve]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: sweeper-approves-csrs}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: csr-approver}
subjects: [{kind: ServiceAccount, name: sweeper, namespace: agents}]
`;
    const sweeper = agent(doctorOn(rbacOf(harness, signer)), 'serviceaccount agents/sweeper');
    expect(finding(sweeper, 'approve-certificates')).toMatchObject({
      scope: 'cluster-wide', grantedBy: { binding: 'ClusterRoleBinding sweeper-approves-csrs', role: 'ClusterRole csr-approver' },
    });
  });

  it('flags impersonate on users and groups, naming the binding', () => {
    const opsBot = agent(doctorOn(rbacOf(harness, IMPERSONATOR)), 'serviceaccount agents/ops-bot');
    const impersonate = finding(opsBot, 'impersonate');
    expect(impersonate).toMatchObject({
      verbs: ['impersonate'], scope: 'cluster-wide', why: 'can act as anyone, including a human approver',
      grantedBy: { binding: 'ClusterRoleBinding ops-bot-impersonates', role: 'ClusterRole impersonator' },
    });
    expect(rightText(impersonate)).toBe('impersonate users,groups');
    expect(dangers(agent(doctorOn(rbacOf(harness, IMPERSONATOR)), 'serviceaccount agents/coder'))).not.toContain('impersonate');
  });

  it('flags impersonation of uids and user extras in authentication.k8s.io', () => {
    const rbac = rbacOf(`
kind: ClusterRole
metadata: {name: extras}
rules:
  - {apiGroups: [authentication.k8s.io], resources: [uids, userextras/scopes], verbs: [impersonate]}
---
kind: ClusterRoleBinding
metadata: {name: extras}
roleRef: {kind: ClusterRole, name: extras}
subjects: [{kind: ServiceAccount, name: bot, namespace: agents}]
`);
    expect(rightText(finding(agent(doctorOn(rbac), 'serviceaccount agents/bot'), 'impersonate'))).toBe('impersonate uids,userextras/* (authentication.k8s.io)');
  });

  it('collapses every verb on every resource into one cluster-admin-like finding', () => {
    const rbac = rbacOf(`
kind: ClusterRole
metadata: {name: cluster-admin}
rules:
  - {apiGroups: ["*"], resources: ["*"], verbs: ["*"]}
  - {nonResourceURLs: ["*"], verbs: ["*"]}
---
kind: ClusterRoleBinding
metadata: {name: coder-admin}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
`);
    const coder = agent(doctorOn(rbac), 'serviceaccount agents/coder');
    expect(coder.findings).toHaveLength(1);
    expect(coder.findings[0]).toMatchObject({ danger: 'cluster-admin-like', scope: 'cluster-wide', grantedBy: { binding: 'ClusterRoleBinding coder-admin' } });
    expect(rightText(coder.findings[0]!)).toBe('* *');
  });

  it('reaches agent service accounts through system:serviceaccounts, their namespace group and system:authenticated', () => {
    const rbac = rbacOf(harness, `
kind: ClusterRole
metadata: {name: token-minter}
rules: [{apiGroups: [""], resources: [serviceaccounts/token], verbs: [create]}]
---
kind: ClusterRoleBinding
metadata: {name: all-sas-mint}
roleRef: {kind: ClusterRole, name: token-minter}
subjects: [{kind: Group, name: system:serviceaccounts}]
---
kind: RoleBinding
metadata: {name: agents-ns-mint, namespace: shop}
roleRef: {kind: ClusterRole, name: token-minter}
subjects: [{kind: Group, name: "system:serviceaccounts:agents"}, {kind: Group, name: "system:serviceaccounts:other"}]
---
kind: ClusterRoleBinding
metadata: {name: everyone-impersonates}
roleRef: {kind: ClusterRole, name: impersonator}
subjects: [{kind: Group, name: system:authenticated}]
`, IMPERSONATOR.replace(/---[\s\S]*$/, ''));
    const report = doctorOn(rbac);
    const sweeper = agent(report, 'serviceaccount agents/sweeper');
    const mint = sweeper.findings.filter((f) => f.danger === 'mint-tokens').map((f) => [f.scope, f.grantedBy.binding, f.grantedBy.via]);
    expect(mint).toEqual([
      ['cluster-wide', 'ClusterRoleBinding agents-inherited-engineer', undefined],
      ['cluster-wide', 'ClusterRoleBinding all-sas-mint', 'group system:serviceaccounts'],
      ['namespace shop', 'RoleBinding shop/agents-ns-mint', 'group system:serviceaccounts:agents'],
    ]);
    expect(finding(sweeper, 'impersonate').grantedBy).toEqual({
      binding: 'ClusterRoleBinding everyone-impersonates', role: 'ClusterRole impersonator', via: 'group system:authenticated',
    });
    // Every member of the agents' group is authenticated: the group identity gets it too; Countersign's SA is no agent.
    expect(dangers(agent(report, 'group countersign:agents'))).toEqual(['impersonate']);
    expect(report.agents.map((a) => a.agent)).not.toContain('serviceaccount countersign/countersign');
  });

  it('scopes a RoleBinding to a ClusterRole to its namespace: secrets count only in Countersign\'s', () => {
    const rbac = rbacOf(NAMESPACE_ADMIN, coderAdminIn('shop'));
    const coder = agent(doctorOn(rbac), 'serviceaccount agents/coder');
    expect(coder.findings.map((f) => [f.danger, rightText(f), f.scope])).toEqual([
      ['impersonate', 'impersonate serviceaccounts', 'namespace shop'],
      ['mint-tokens', 'create serviceaccounts/token', 'namespace shop'],
    ]);
    expect(finding(coder, 'impersonate').grantedBy).toEqual({ binding: 'RoleBinding shop/coder-admin', role: 'ClusterRole admin-like' });
    expect(finding(coder, 'impersonate').why).toBe('can act as other service accounts, which Countersign may not count as agents');
  });

  it('counts bind on ClusterRoles in a RoleBinding (it binds them in that namespace), but not escalate', () => {
    const rbac = rbacOf(`
kind: Role
metadata: {name: rbac-manager, namespace: shop}
rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind, escalate]}]
---
kind: RoleBinding
metadata: {name: coder-rbac, namespace: shop}
roleRef: {kind: Role, name: rbac-manager}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
`);
    const coder = agent(doctorOn(rbac), 'serviceaccount agents/coder');
    expect(coder.findings.map((f) => [rightText(f), f.scope, f.grantedBy.role])).toEqual([
      ['bind clusterroles (rbac.authorization.k8s.io)', 'namespace shop', 'Role shop/rbac-manager'],
    ]);
  });

  it('merges the rules of one role that grant the same kind of right', () => {
    const rbac = rbacOf(`
kind: ClusterRole
metadata: {name: secret-reader}
rules:
  - {apiGroups: [""], resources: [secrets], verbs: [get]}
  - {apiGroups: [""], resources: [secrets], verbs: [list, watch]}
---
kind: ClusterRoleBinding
metadata: {name: coder-secrets}
roleRef: {kind: ClusterRole, name: secret-reader}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
`);
    expect(agent(doctorOn(rbac), 'serviceaccount agents/coder').findings.map((f) => rightText(f))).toEqual(['get,list,watch secrets']);
  });

  it("treats any write in Countersign's namespace as tampering, and its secrets as readable", () => {
    const rbac = rbacOf(NAMESPACE_ADMIN, coderAdminIn('countersign'));
    const coder = agent(doctorOn(rbac), 'serviceaccount agents/coder');
    expect(dangers(coder)).toEqual(['impersonate', 'mint-tokens', 'read-secrets', 'tamper-countersign']);
    expect(rightText(finding(coder, 'tamper-countersign'), 4)).toBe('create,update,patch,delete secrets,configmaps; roles,rolebindings (rbac.authorization.k8s.io)');
    expect(rightText(finding(coder, 'tamper-countersign'))).toBe('create,update,patch,delete secrets,configmaps +2 more');
    expect(finding(coder, 'read-secrets').scope).toBe('namespace countersign');
  });

  it("files approvals once, not again as tampering, and collapses a namespace wildcard", () => {
    const rbac = rbacOf(`
kind: Role
metadata: {name: approvals-all, namespace: countersign}
rules: [{apiGroups: [countersign.dev], resources: [approvals], verbs: ["*"]}]
---
kind: Role
metadata: {name: everything, namespace: countersign}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
kind: RoleBinding
metadata: {name: approvals-all, namespace: countersign}
roleRef: {kind: Role, name: approvals-all}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
---
kind: RoleBinding
metadata: {name: everything, namespace: countersign}
roleRef: {kind: Role, name: everything}
subjects: [{kind: ServiceAccount, name: ops-bot, namespace: agents}]
`);
    const report = doctorOn(rbac);
    const coder = agent(report, 'serviceaccount agents/coder');
    expect(coder.findings.map((f) => [f.danger, rightText(f)])).toEqual([
      ['file-approvals', 'create approvals (countersign.dev)'],
      ['tamper-countersign', 'update,patch,delete,deletecollection approvals (countersign.dev)'],
      // `write` is every write verb: here create went to its own finding.
    ]);
    expect(agent(report, 'serviceaccount agents/ops-bot').findings).toMatchObject([
      { danger: 'cluster-admin-like', scope: 'namespace countersign', grantedBy: { role: 'Role countersign/everything' } },
    ]);
  });

  it('notes resourceNames, and knows such a rule cannot create', () => {
    const rbac = rbacOf(`
kind: Role
metadata: {name: signer-reader, namespace: countersign}
rules:
  - {apiGroups: [""], resources: [secrets], resourceNames: [countersign-allowed-signers], verbs: [get]}
  - {apiGroups: [countersign.dev], resources: [approvals], resourceNames: [one], verbs: [create]}
---
kind: ClusterRole
metadata: {name: impersonate-alice}
rules: [{apiGroups: [""], resources: [users], resourceNames: [alice], verbs: [impersonate]}]
---
kind: RoleBinding
metadata: {name: signer-reader, namespace: countersign}
roleRef: {kind: Role, name: signer-reader}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
---
kind: ClusterRoleBinding
metadata: {name: impersonate-alice}
roleRef: {kind: ClusterRole, name: impersonate-alice}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
`);
    const coder = agent(doctorOn(rbac), 'serviceaccount agents/coder');
    expect(coder.findings.map((f) => [f.danger, rightText(f)])).toEqual([
      ['impersonate', 'impersonate users [names: alice]'],
      ['read-secrets', 'get secrets [names: countersign-allowed-signers]'],
    ]);
  });

  it('flags nothing for an agent that may only edit its own configmaps and read pods', () => {
    const rbac = rbacOf(`
kind: ServiceAccount
metadata: {name: tidy, namespace: agents}
---
kind: Role
metadata: {name: configmaps, namespace: agents}
rules:
  - {apiGroups: [""], resources: [configmaps], verbs: ["*"]}
  - {apiGroups: ["", apps], resources: [pods, pods/log, deployments], verbs: [get, list, watch]}
  - {apiGroups: ["*"], resources: ["*/scale"], verbs: [update]}
---
kind: RoleBinding
metadata: {name: tidy, namespace: agents}
roleRef: {kind: Role, name: configmaps}
subjects: [{kind: ServiceAccount, name: tidy}]
`);
    const report = doctorOn(rbac);
    expect(agent(report, 'serviceaccount agents/tidy').findings).toEqual([]);
    expect(report.summary).toEqual({ agents: 2, findings: 0 });
  });
});

describe('who doctor counts as an agent', () => {
  it('matches users by the usernames globs, and a User subject naming a service account as that account', () => {
    const report = doctorOn(rbacOf(binding('{kind: User, name: bot-7}, {kind: User, name: alice}, {kind: User, name: "system:serviceaccount:agents:coder"}')), { usernames: ['bot-*'] });
    expect(report.agents.map((a) => [a.agent, a.findings.length])).toEqual([
      ['serviceaccount agents/coder', 1], ['user bot-7', 1], ['group countersign:agents', 0],
    ]);
    expect(agent(report, 'user bot-7').matchedBy).toBe('username bot-7');
  });

  it('matches groups by the groups globs, and service accounts only when bindings or the cluster name them', () => {
    const report = doctorOn(rbacOf(binding('{kind: Group, name: ai-fleet}, {kind: ServiceAccount, name: deployer, namespace: ci}')), {
      serviceAccounts: ['ci/deploy*'], groups: ['ai-*'],
    });
    expect(report.agents.map((a) => [a.agent, a.matchedBy, dangers(a)])).toEqual([
      ['serviceaccount ci/deployer', 'serviceAccount ci/deployer', ['bind']],
      ['group ai-fleet', 'group ai-fleet', ['bind']],
    ]);
  });

  it('counts an agent group configured literally as a service account group', () => {
    const report = doctorOn(rbacOf(harness), { serviceAccounts: ['nobody/none'], groups: ['system:serviceaccounts:agents'] });
    expect(report.agents.map((a) => a.agent)).toEqual([
      'serviceaccount agents/coder', 'serviceaccount agents/ops-bot', 'serviceaccount agents/sweeper', 'group system:serviceaccounts:agents',
    ]);
    expect(agent(report, 'serviceaccount agents/coder').matchedBy).toBe('group system:serviceaccounts:agents');
  });

  it('notes a binding to a role that does not exist', () => {
    const report = doctorOn(rbacOf(`
kind: RoleBinding
metadata: {name: later, namespace: agents}
roleRef: {kind: Role, name: not-yet}
subjects: [{kind: ServiceAccount, name: coder, namespace: agents}]
`));
    expect(agent(report, 'serviceaccount agents/coder').notes).toEqual([
      'RoleBinding agents/later refers to Role agents/not-yet, which does not exist: whoever creates it grants this agent its rules',
    ]);
  });
});

describe('RBAC rule matching', () => {
  it('matches as the authorizer does: * verbs, groups and resources, */subresource, and no prefix matching', () => {
    const rule = { apiGroups: ['*'], resources: ['*/token', 'pods'], verbs: ['create'] };
    expect(ruleGrants(rule, 'create', { group: '', resource: 'serviceaccounts', subresource: 'token' })).toBe(true);
    expect(ruleGrants(rule, 'create', { group: '', resource: 'pods', subresource: 'exec' })).toBe(false);
    expect(ruleGrants(rule, 'update', { group: '', resource: 'pods' })).toBe(false);
    expect(ruleGrants({ apiGroups: [''], resources: ['*'], verbs: ['*'] }, 'bind', { group: 'rbac.authorization.k8s.io', resource: 'roles' })).toBe(false);
  });
});

describe('doctor output', () => {
  it('prints a table per agent, the granting binding, and a summary line', () => {
    const text = renderDoctor(doctorOn(rbacOf(harness, IMPERSONATOR)), 'table');
    expect(text).toContain('serviceaccount agents/ops-bot\n  RIGHT');
    expect(text).toMatch(/ {2}impersonate users,groups +cluster-wide +ClusterRoleBinding ops-bot-impersonates -> ClusterRole impersonator +can act as anyone, including a human approver\n/);
    expect(text).toContain('group countersign:agents: nothing flagged\n');
    expect(text.trimEnd().split('\n').at(-1)).toBe('4 agent identities, 28 findings');
  });

  it('gives scripts the whole report as JSON or YAML', () => {
    const report = doctorOn(rbacOf(harness));
    const parsed = JSON.parse(renderDoctor(report, 'json')) as DoctorReport;
    expect(parsed.summary).toEqual(report.summary);
    expect(parsed.agents[0]!.findings[0]!.grantedBy.binding).toBe('ClusterRoleBinding agents-inherited-engineer');
    const yaml = renderDoctor(report, 'yaml');
    expect(yaml).toContain('countersignNamespace: countersign');
    // Plain YAML for any reader: no anchors and aliases for the grants findings share.
    expect(yaml).not.toMatch(/[&*]a\d/);
  });

  it('escapes control characters an object name could carry', () => {
    const rbac = rbacOf(binding('{kind: ServiceAccount, name: "x\\u001b[2Jy", namespace: agents}'));
    expect(renderDoctor(doctorOn(rbac), 'table')).toContain('agents/x\\u001b[2Jy');
  });
});

function binding(subject: string): string {
  return `
kind: ClusterRole
metadata: {name: binder}
rules: [{apiGroups: [rbac.authorization.k8s.io], resources: [clusterroles], verbs: [bind]}]
---
kind: ClusterRoleBinding
metadata: {name: b}
roleRef: {kind: ClusterRole, name: binder}
subjects: [${subject}]
`;
}
