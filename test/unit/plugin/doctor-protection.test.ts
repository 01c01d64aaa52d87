// doctor's self-defence line: read from the apiserver's /metrics, the only place static admission manifests show.
import { describe, expect, it } from '@jest/globals';
import { protectionFromMetrics, protectionText } from '../../../src/plugin/doctor-protection.js';

const LOADED = (apiserver: string, hash: string, plugin = 'ValidatingAdmissionPolicy'): string =>
  `apiserver_manifest_admission_config_controller_last_config_info{apiserver_id_hash="sha256:${apiserver}",hash="sha256:${hash}",plugin="${plugin}"} 1`;

describe('doctor protection', () => {
  it('sees static manifests when an apiserver reports a loaded ValidatingAdmissionPolicy configuration', () => {
    const metrics = ['# HELP apiserver_manifest_admission_config_controller_last_config_info [ALPHA] ...', LOADED('a', 'h1'), LOADED('b', 'h1'), 'apiserver_request_total{code="200"} 5'].join('\n');
    const protection = protectionFromMetrics(metrics);
    expect(protection).toMatchObject({ kind: 'static-manifests', apiservers: 2, hashes: ['sha256:h1'] });
    expect(protectionText(protection)).toMatch(/^self-defence: static manifests: .*cannot see their content/);
  });

  it('says API-managed only when no static validating configuration is loaded (a mutating one does not count)', () => {
    const protection = protectionFromMetrics(`${LOADED('a', 'h1', 'MutatingAdmissionPolicy')}\napiserver_request_total 1\n`);
    expect(protection.kind).toBe('api-managed-only');
    expect(protectionText(protection)).toMatch(/API-managed only: .*can delete them/);
  });

  it('flags different configurations on different apiservers, and says it cannot tell without /metrics', () => {
    expect(protectionFromMetrics([LOADED('a', 'h1'), LOADED('b', 'h2')].join('\n'))).toMatchObject({ hashes: ['sha256:h1', 'sha256:h2'], advice: expect.stringContaining('different configurations') });
    const unknown = protectionFromMetrics({ unreadable: 'HTTP 403' });
    expect(unknown.kind).toBe('unknown');
    expect(protectionText(unknown)).toMatch(/^self-defence: cannot tell \(cannot read the apiserver's \/metrics \(HTTP 403\)/);
  });
});
