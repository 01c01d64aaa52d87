// Which protection the guard's own admission objects have. Static admission manifests (kube-apiserver's
// staticManifestsDir) are not served by the API, so doctor cannot list them; the apiserver's metrics are the one
// honest signal: it reports, per apiserver, that it loaded a static ValidatingAdmissionPolicy configuration (and its
// hash), never what is in it. Without /metrics access doctor says it cannot tell.

const LOADED = 'apiserver_manifest_admission_config_controller_last_config_info';

export type Protection =
  | { kind: 'static-manifests'; apiservers: number; hashes: string[]; advice: string }
  | { kind: 'api-managed-only'; advice: string }
  | { kind: 'unknown'; reason: string; advice: string };

const RBAC_ADVICE = 'the self-defence policies are API-managed: an agent that may write validatingadmissionpolicies or their bindings can delete them, then the webhook configuration; keep those rights from every agent (the findings above)';

function label(line: string, name: string): string | undefined {
  return new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1];
}

/** Pure: the protection a /metrics text shows (undefined text: the metrics could not be read, with the reason). */
export function protectionFromMetrics(metrics: string | { unreadable: string }): Protection {
  if (typeof metrics !== 'string') {
    return { kind: 'unknown', reason: `cannot read the apiserver's /metrics (${metrics.unreadable}), the only place static admission manifests show`, advice: RBAC_ADVICE };
  }
  const loaded = metrics.split('\n').filter((line) => line.startsWith(`${LOADED}{`) && label(line, 'plugin') === 'ValidatingAdmissionPolicy');
  if (loaded.length === 0) return { kind: 'api-managed-only', advice: RBAC_ADVICE };
  const apiservers = new Set(loaded.map((line) => label(line, 'apiserver_id_hash') ?? '')).size;
  const hashes = [...new Set(loaded.map((line) => label(line, 'hash') ?? ''))].sort();
  return {
    kind: 'static-manifests', apiservers, hashes,
    // The metric says a static configuration is loaded, not that it is Countersign's: say so.
    advice: `static ValidatingAdmissionPolicy manifests are loaded (${apiservers} apiserver${apiservers === 1 ? '' : 's'} reporting${hashes.length > 1 ? ', different configurations on different apiservers' : ''}); doctor cannot see their content: check that the directory holds countersign self-defence-policy --static output`,
  };
}

export function protectionText(protection: Protection): string {
  const head = protection.kind === 'static-manifests' ? 'static manifests' : protection.kind === 'api-managed-only' ? 'API-managed only' : 'cannot tell';
  const reason = protection.kind === 'unknown' ? ` (${protection.reason})` : '';
  return `self-defence: ${head}${reason}: ${protection.advice}\n`;
}
