// Self-defence against the real apiserver: webhook configurations are never sent to webhooks, so the shipped
// ValidatingAdmissionPolicies guard them; the webhook and the policies both guard Countersign's namespace and the
// environment label. API-managed policies are exempt from admission, so the same policies also run as the apiserver's
// static manifests (the harness loads them), which guard the admission policies themselves.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { E2E_DIR, eventually, kubectlAs, mustKubectl } from './kube.ts';

const MUTATING = (name: string): string => JSON.stringify({
  apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name }, webhooks: [],
});

describe('self-defence', () => {
  it('refuses an agent deleting or loosening the webhook configuration, or adding a webhook of its own', async () => {
    // Admission policies take effect a moment after they are created: probe with a dry run, which cannot delete.
    await eventually('the admission policy to refuse the agent', 30_000, () =>
      (kubectlAs('coder', ['delete', 'validatingwebhookconfiguration', 'countersign', '--dry-run=server']).code !== 0 ? true : undefined));
    const deleted = kubectlAs('coder', ['delete', 'validatingwebhookconfiguration', 'countersign']);
    expect(deleted.code).not.toBe(0);
    // The static guard on all admission objects or the webhook policy: whichever the apiserver evaluates first.
    expect(deleted.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-(webhooks|policies)(\.static\.k8s\.io)?'.*agents may not create, change or delete admission/);
    const loosened = kubectlAs('coder', ['patch', 'validatingwebhookconfiguration', 'countersign', '--type=json', '-p', '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]']);
    expect(loosened.code).not.toBe(0);
    // A mutating webhook of the agent's own could rewrite a human's Approval on its way in.
    expect(kubectlAs('ops-bot', ['create', '-f', '-'], MUTATING('agent-owned')).stderr).toMatch(/agents may not create, change or delete admission/);
    // Humans are never matched.
    mustKubectl('admin', ['create', '-f', '-'], MUTATING('admin-owned'));
    mustKubectl('admin', ['delete', 'mutatingwebhookconfiguration', 'admin-owned']);
    const config = JSON.parse(mustKubectl('admin', ['get', 'validatingwebhookconfiguration', 'countersign', '-o', 'json'])) as { webhooks: { failurePolicy: string }[] };
    expect(config.webhooks.map((w) => w.failurePolicy)).toEqual(['Fail', 'Fail']);
  });

  it('refuses an agent rerouting an API group through an APIService, and approving a certificate request', () => {
    const reroute = kubectlAs('coder', ['patch', 'apiservice', 'v1alpha1.countersign.dev', '--dry-run=server', '--type=merge',
      '-p', '{"metadata":{"labels":{"kube-aggregator.kubernetes.io/automanaged":null}},"spec":{"service":{"namespace":"agents","name":"evil"}}}']);
    expect(reroute.code).not.toBe(0);
    expect(reroute.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-webhooks(\.static\.k8s\.io)?'.*agents may not create, change or delete admission webhooks or API services/);
    const dir = mkdtempSync(join(tmpdir(), 'countersign-csr-'));
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k'), '-out', join(dir, 'csr'), '-subj', '/CN=sre-a/O=sre'], { stdio: 'ignore' });
    const csr = { apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name: 'be-sre-a' },
      spec: { request: readFileSync(join(dir, 'csr')).toString('base64'), signerName: 'kubernetes.io/kube-apiserver-client', usages: ['client auth'] } };
    mustKubectl('admin', ['create', '-f', '-'], JSON.stringify(csr));
    // RBAC alone would let it: the agent holds `approve` on the signer (as any `verbs: ["*"]` grant would give).
    mustKubectl('admin', ['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'List', items: [
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'csr-signer-approver' },
          rules: [{ apiGroups: ['certificates.k8s.io'], resources: ['signers'], resourceNames: ['kubernetes.io/kube-apiserver-client'], verbs: ['approve'] }] },
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'csr-signer-approver' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'csr-signer-approver' },
          subjects: [{ kind: 'ServiceAccount', name: 'sweeper', namespace: 'agents' }] },
      ],
    }));
    try {
      const approve = kubectlAs('sweeper', ['certificate', 'approve', 'be-sre-a']);
      expect(approve.code).not.toBe(0);
      expect(approve.stderr).toContain('Countersign denied this request (rule csr-approval)');
    } finally {
      mustKubectl('admin', ['delete', 'csr/be-sre-a', 'clusterrolebinding/csr-signer-approver', 'clusterrole/csr-signer-approver']);
    }
  });

  it('refuses an agent editing Countersign\'s Deployment or anything else in its namespace, and its CRDs', () => {
    mustKubectl('admin', ['create', 'deployment', 'countersign', '-n', 'countersign', '--image=registry.k8s.io/pause:3.10', '--replicas=2']);
    for (const args of [
      ['scale', 'deployment', 'countersign', '-n', 'countersign', '--replicas=0'],
      ['set', 'image', 'deployment/countersign', '-n', 'countersign', 'pause=evil.example.com/pause:1'],
      ['delete', 'deployment', 'countersign', '-n', 'countersign'],
    ]) {
      const run = kubectlAs('coder', args);
      expect(run.code).not.toBe(0);
      // The webhook is never called there: the admission policy alone refuses it.
      expect(run.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-protected-namespaces(\.static\.k8s\.io)?'.*agents may not touch anything in namespace countersign/);
    }
    const crd = kubectlAs('coder', ['delete', 'crd', 'approvals.countersign.dev']);
    // Policies run before webhooks: the policy's refusal is the one quoted (the webhook's rule says the same).
    expect(crd.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-webhooks(\.static\.k8s\.io)?'.*Countersign's CustomResourceDefinitions/);
    mustKubectl('admin', ['delete', 'deployment', 'countersign', '-n', 'countersign']);
  });

  it('refuses an agent removing or changing a namespace\'s production label', () => {
    mustKubectl('admin', ['create', 'namespace', 'guarded-prod-label']);
    mustKubectl('admin', ['label', 'namespace', 'guarded-prod-label', 'environment=production']);
    for (const change of [['environment-'], ['environment=development', '--overwrite']]) {
      const run = kubectlAs('coder', ['label', 'namespace', 'guarded-prod-label', ...change]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-environment-label(\.static\.k8s\.io)?'.*agents may not change the environment label of namespace guarded-prod-label/);
    }
    expect(mustKubectl('admin', ['get', 'namespace', 'guarded-prod-label', '-o', 'jsonpath={.metadata.labels.environment}'])).toBe('production');
  });

  it('keeps the guard when an agent with cluster-admin rights tries to remove it (static manifests)', () => {
    // The admin grants an agent everything RBAC can grant: from here only the static policies stand in its way.
    mustKubectl('admin', ['create', 'clusterrolebinding', 'sweeper-cluster-admin', '--clusterrole=cluster-admin', '--serviceaccount=agents:sweeper']);
    try {
      expect(kubectlAs('sweeper', ['auth', 'can-i', 'delete', 'validatingadmissionpolicies']).stdout.trim()).toBe('yes');
      const attempts = [
        ['delete', 'validatingadmissionpolicybinding', 'countersign-environment-label'],
        ['delete', 'validatingadmissionpolicy', 'countersign-admission-webhooks'],
        ['patch', 'validatingadmissionpolicybinding', 'countersign-protected-namespaces', '--type=merge', '-p', '{"spec":{"validationActions":["Audit"]}}'],
        ['patch', 'validatingadmissionpolicy', 'countersign-environment-label', '--type=merge', '-p', '{"spec":{"failurePolicy":"Ignore"}}'],
        ['delete', 'validatingwebhookconfiguration', 'countersign'],
        ['patch', 'validatingwebhookconfiguration', 'countersign', '--type=json', '-p', '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]'],
      ];
      for (const args of attempts) {
        const run = kubectlAs('sweeper', args);
        expect([args.join(' '), run.code === 0]).toEqual([args.join(' '), false]);
        // API-managed policies never see writes to admission policies: only the static one can have refused them.
        expect(run.stderr).toMatch(args[1]?.endsWith('webhookconfiguration') === true
          ? /ValidatingAdmissionPolicy 'countersign-admission-(policies|webhooks)(\.static\.k8s\.io)?'.*agents may not create, change or delete admission/
          : /ValidatingAdmissionPolicy 'countersign-admission-policies\.static\.k8s\.io'.*agents may not create, change or delete admission policies/);
      }
      // A deny-everything policy of the agent's own would lock everyone out: refused too.
      const lockout = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'agent-lockout' },
        spec: { failurePolicy: 'Fail', matchConstraints: { resourceRules: [{ apiGroups: ['*'], apiVersions: ['*'], operations: ['*'], resources: ['*'] }] },
          validations: [{ expression: 'false' }] } };
      expect(kubectlAs('sweeper', ['create', '-f', '-'], JSON.stringify(lockout)).stderr).toMatch(/agents may not create, change or delete admission policies/);
      // By outcome: everything is still there and unchanged.
      expect(mustKubectl('admin', ['get', 'validatingadmissionpolicy', 'agent-lockout', '--ignore-not-found', '-o', 'name'])).toBe('');
      const policies = JSON.parse(mustKubectl('admin', ['get', 'validatingadmissionpolicies', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { failurePolicy: string } }[] };
      expect(policies.items.filter((p) => p.metadata.name.startsWith('countersign-')).map((p) => [p.metadata.name, p.spec.failurePolicy]).sort()).toEqual([
        ['countersign-admission-webhooks', 'Fail'], ['countersign-agent-owner', 'Fail'], ['countersign-environment-label', 'Fail'], ['countersign-protected-namespaces', 'Fail'],
      ]);
      const bindings = JSON.parse(mustKubectl('admin', ['get', 'validatingadmissionpolicybindings', '-o', 'json'])) as { items: { metadata: { name: string }; spec: { validationActions: string[] } }[] };
      expect(bindings.items.filter((b) => b.metadata.name.startsWith('countersign-')).map((b) => [b.metadata.name, b.spec.validationActions]).sort()).toEqual([
        ['countersign-admission-webhooks', ['Deny']], ['countersign-agent-owner', ['Deny']], ['countersign-environment-label', ['Deny']], ['countersign-protected-namespaces', ['Deny']],
      ]);
      const config = JSON.parse(mustKubectl('admin', ['get', 'validatingwebhookconfiguration', 'countersign', '-o', 'json'])) as { webhooks: { failurePolicy: string }[] };
      expect(config.webhooks.map((w) => w.failurePolicy)).toEqual(['Fail', 'Fail']);
      // The guard still bites: the agent's relabel is refused.
      mustKubectl('admin', ['create', 'namespace', 'guarded-static']);
      mustKubectl('admin', ['label', 'namespace', 'guarded-static', 'environment=production']);
      expect(kubectlAs('sweeper', ['label', 'namespace', 'guarded-static', 'environment-']).code).not.toBe(0);
      expect(mustKubectl('admin', ['get', 'namespace', 'guarded-static', '-o', 'jsonpath={.metadata.labels.environment}'])).toBe('production');
    } finally {
      mustKubectl('admin', ['delete', 'clusterrolebinding', 'sweeper-cluster-admin']);
    }
  });

  it('keeps the static policies out of the API\'s reach, and humans still write admission policies', () => {
    // Static objects are not served: neither listable nor deletable, and their names cannot be taken through the API.
    const names = mustKubectl('admin', ['get', 'validatingadmissionpolicies', '-o', 'name']);
    expect(names).not.toContain('.static.k8s.io');
    const deleted = kubectlAs('admin', ['delete', 'validatingadmissionpolicy', 'countersign-admission-policies.static.k8s.io']);
    expect(deleted.code).not.toBe(0);
    expect(deleted.stderr).toMatch(/NotFound/);
    const squat = { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'countersign-admission-policies.static.k8s.io' },
      spec: { matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] }] }, validations: [{ expression: 'true' }] } };
    const squatted = kubectlAs('admin', ['create', '-f', '-'], JSON.stringify(squat));
    expect(squatted.code).not.toBe(0);
    expect(squatted.stderr).toContain('.static.k8s.io');
    // doctor cannot list them either; it reads the apiserver's metrics, which say a static configuration is loaded.
    const doctor = kubectlAs('admin', ['countersign', 'doctor', '-o', 'json']);
    expect((JSON.parse(doctor.stdout) as { protection: { kind: string; apiservers: number } }).protection).toMatchObject({ kind: 'static-manifests', apiservers: 1 });
    expect(kubectlAs('admin', ['countersign', 'doctor']).stdout).toMatch(/self-defence: static manifests/);
    // Humans are never matched: the admin removes and restores a binding (the agents could not).
    mustKubectl('admin', ['delete', 'validatingadmissionpolicybinding', 'countersign-environment-label']);
    mustKubectl('admin', ['apply', '-f', join(E2E_DIR, 'self-defence-policy.yaml')]);
    expect(mustKubectl('admin', ['get', 'validatingadmissionpolicybinding', 'countersign-environment-label', '-o', 'name'])).toContain('countersign-environment-label');
  });
});
