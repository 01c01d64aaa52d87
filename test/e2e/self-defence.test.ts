// Self-defence against the real apiserver: webhook configurations are never sent to webhooks, so the shipped
// ValidatingAdmissionPolicies guard them; the webhook and the policies both guard Countersign's namespace and the
// environment label. And what a policy cannot guard, shown rather than assumed.
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
    expect(deleted.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-webhooks'.*agents may not create, change or delete admission webhooks or API services/);
    const loosened = kubectlAs('coder', ['patch', 'validatingwebhookconfiguration', 'countersign', '--type=json', '-p', '[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]']);
    expect(loosened.code).not.toBe(0);
    // A mutating webhook of the agent's own could rewrite a human's Approval on its way in.
    expect(kubectlAs('ops-bot', ['create', '-f', '-'], MUTATING('agent-owned')).stderr).toMatch(/agents may not create, change or delete admission webhooks or API services/);
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
    expect(reroute.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-webhooks'.*agents may not create, change or delete admission webhooks or API services/);
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
      expect(run.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-protected-namespaces'.*agents may not touch anything in namespace countersign/);
    }
    const crd = kubectlAs('coder', ['delete', 'crd', 'approvals.countersign.dev']);
    // Policies run before webhooks: the policy's refusal is the one quoted (the webhook's rule says the same).
    expect(crd.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-admission-webhooks'.*Countersign's CustomResourceDefinitions/);
    mustKubectl('admin', ['delete', 'deployment', 'countersign', '-n', 'countersign']);
  });

  it('refuses an agent removing or changing a namespace\'s production label', () => {
    mustKubectl('admin', ['create', 'namespace', 'guarded-prod-label']);
    mustKubectl('admin', ['label', 'namespace', 'guarded-prod-label', 'environment=production']);
    for (const change of [['environment-'], ['environment=development', '--overwrite']]) {
      const run = kubectlAs('coder', ['label', 'namespace', 'guarded-prod-label', ...change]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(/ValidatingAdmissionPolicy 'countersign-environment-label'.*agents may not change the environment label of namespace guarded-prod-label/);
    }
    expect(mustKubectl('admin', ['get', 'namespace', 'guarded-prod-label', '-o', 'jsonpath={.metadata.labels.environment}'])).toBe('production');
  });

  it('cannot guard the admission policies themselves: the apiserver exempts them, so that takes RBAC', () => {
    // Shown, not assumed: with the e2e agents' inherited wildcard rights, deleting a policy binding succeeds.
    const run = kubectlAs('coder', ['delete', 'validatingadmissionpolicybinding', 'countersign-environment-label']);
    expect(run.code).toBe(0);
    mustKubectl('admin', ['apply', '-f', join(E2E_DIR, 'self-defence-policy.yaml')]);
    // `kubectl countersign doctor` flags exactly this right (test/e2e/doctor.test.ts).
  });
});
