// kubectl countersign doctor against the real apiserver's RBAC: the harness's agents inherit an engineer's escalate
// and bind; an agent then given impersonate is flagged with the binding that grants it.
import { afterAll, describe, expect, it } from '@jest/globals';
import type { DoctorReport } from '../../src/rbac/index.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubectlAs, mustKubectl } from './kube.ts';

// The same RBAC the unit tests flag (test/fixtures/rbac/impersonator.yaml).
const IMPERSONATOR = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rbac', 'impersonator.yaml'), 'utf8');
const ROLE = 'impersonator';
const BINDING = 'ops-bot-impersonates';

function removeImpersonator(): void {
  mustKubectl('admin', ['delete', `clusterrolebinding/${BINDING}`, `clusterrole/${ROLE}`, '--ignore-not-found']);
}

/** The lines of one agent's section of the table. */
function section(table: string, agent: string): string {
  const start = table.indexOf(`${agent}\n`);
  if (start < 0) throw new Error(`no section for ${agent} in:\n${table}`);
  const end = table.indexOf('\n\n', start);
  return table.slice(start, end < 0 ? undefined : end);
}

function doctorJson(): DoctorReport {
  const run = kubectlAs('admin', ['countersign', 'doctor', '-o', 'json']);
  expect(run.code).toBe(1);
  return JSON.parse(run.stdout) as DoctorReport;
}

afterAll(removeImpersonator);

describe('kubectl countersign doctor', () => {
  it("flags the agents' inherited escalate and bind, and exits 1", () => {
    const run = kubectlAs('admin', ['countersign', 'doctor']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    // The e2e control plane loads the static self-defence manifests; doctor sees that from the apiserver's /metrics.
    expect(run.stdout.split('\n')[0]).toMatch(/^self-defence: static manifests: static ValidatingAdmissionPolicy manifests are loaded \(1 apiserver reporting\)/);
    for (const agent of ['coder', 'ops-bot', 'sweeper']) {
      const lines = section(run.stdout, `serviceaccount agents/${agent}`);
      expect(lines).toMatch(/ {2}escalate roles,clusterroles \(rbac.authorization.k8s.io\) +cluster-wide +ClusterRoleBinding agents-inherited-engineer -> ClusterRole inherited-engineer +can write roles/);
      expect(lines).toMatch(/ {2}bind roles,clusterroles \(rbac.authorization.k8s.io\) +cluster-wide +ClusterRoleBinding agents-inherited-engineer -> ClusterRole inherited-engineer +can bind any role/);
    }
    expect(section(run.stdout, 'serviceaccount agents/ops-bot')).not.toContain('impersonate');
    // The namespace's default ServiceAccount is an agent by the default policy's agents/* too, and holds nothing.
    expect(run.stdout).toContain('serviceaccount agents/default: nothing flagged\n');
    expect(run.stdout).not.toContain('serviceaccount countersign/countersign');
    // Every ServiceAccount in `agents` (other tests add some) plus the configured group countersign:agents.
    const accounts = mustKubectl('admin', ['get', 'serviceaccounts', '-n', 'agents', '-o', 'name']).trim().split('\n').length;
    expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^${String(accounts + 1)} agent identities, \\d+ findings$`));
  });

  it('flags an agent given impersonate, naming the binding that grants it', () => {
    mustKubectl('admin', ['apply', '-f', '-'], IMPERSONATOR);
    try {
      const run = kubectlAs('admin', ['countersign', 'doctor']);
      expect(run.code).toBe(1);
      expect(section(run.stdout, 'serviceaccount agents/ops-bot')).toMatch(
        new RegExp(` {2}impersonate users,groups +cluster-wide +ClusterRoleBinding ${BINDING} -> ClusterRole ${ROLE} +can act as anyone, including a human approver\\n`),
      );
      expect(section(run.stdout, 'serviceaccount agents/coder')).not.toContain('impersonate');
      const opsBot = doctorJson().agents.find((a) => a.name === 'agents/ops-bot');
      expect(opsBot?.findings.filter((f) => f.danger === 'impersonate')).toEqual([{
        danger: 'impersonate', verbs: ['impersonate'], resources: [{ group: '', resource: 'users' }, { group: '', resource: 'groups' }],
        resourceNames: [], why: 'can act as anyone, including a human approver', scope: 'cluster-wide',
        grantedBy: { binding: `ClusterRoleBinding ${BINDING}`, role: `ClusterRole ${ROLE}` },
      }]);
    } finally {
      removeImpersonator();
    }
    expect(doctorJson().agents.find((a) => a.name === 'agents/ops-bot')?.findings.map((f) => f.danger)).not.toContain('impersonate');
  });

  it('exits 2 on usage errors', () => {
    const extra = kubectlAs('admin', ['countersign', 'doctor', 'everything']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('doctor: unexpected argument everything');
    const missing = kubectlAs('admin', ['countersign', 'doctor', '--config', '/nonexistent/countersign.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/countersign.yaml: cannot read');
  });
});
