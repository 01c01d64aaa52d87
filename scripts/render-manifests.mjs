// Renders manifests/ from the chart with helm (built from its Go module: npm run helm:build), so `kubectl apply -f
// manifests/` installs what `helm install` would. TLS comes from cert-manager (a self-signed Issuer): Helm's
// generated certificates differ on every render and could not be checked in. Usage: npm run manifests
// (--check: exit 1 if manifests/ differs from a fresh render; CI runs that in the chart's end-to-end test).
// It first writes the chart's copy of the default policy: Helm cannot read files outside the chart, so the copy is
// generated here from policy/default.yaml, the one place the default policy is written, and so are the
// configuration's defaults (files/config-defaults.yaml, from the schema in src/config/schema.ts, built to dist/ by
// npm run manifests): the chart's templates read every setting from the merged configuration, never a default of
// their own.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { configSpec } from '../dist/config/schema.js';
import { check } from '../dist/config/validate.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MANIFEST = join(ROOT, 'manifests', 'countersign.yaml');
const HELM = join(ROOT, 'test', 'helm', 'bin', 'helm');
export const CHART_POLICY = join(ROOT, 'charts', 'countersign', 'files', 'default-policy.yaml');

export const CHART_DEFAULTS = join(ROOT, 'charts', 'countersign', 'files', 'config-defaults.yaml');

/** Every setting's default, as the schema fills them into an empty document. */
export function chartConfigDefaults() {
  const header = '# Generated from the configuration schema (src/config/schema.ts) by scripts/render-manifests.mjs (npm run manifests).\n';
  return header + stringify(check(configSpec, {}, '', []));
}

/** The chart's copy of policy/default.yaml, marked as generated. */
export function chartPolicy() {
  const header = '# Generated from policy/default.yaml by scripts/render-manifests.mjs (npm run manifests); edit that file, not this one.\n';
  return header + readFileSync(join(ROOT, 'policy', 'default.yaml'), 'utf8');
}

export function renderManifests() {
  const namespace = [
    '# Rendered from charts/countersign by scripts/render-manifests.mjs (npm run manifests); do not edit by hand.',
    '# Needs cert-manager for the serving certificate. Install: kubectl apply --server-side -f manifests/countersign.yaml',
    '---',
    'apiVersion: v1',
    'kind: Namespace',
    'metadata:',
    '  name: countersign',
    '',
  ].join('\n');
  const rendered = execFileSync(HELM, [
    'template', 'countersign', join(ROOT, 'charts', 'countersign'), '--namespace', 'countersign', '--include-crds',
    // No hooks: plain manifests have no uninstall, and applying the pre-delete Job would remove the webhook at once.
    '--kube-version', '1.37.1', '--set', 'tls.mode=cert-manager', '--no-hooks',
  ], { encoding: 'utf8' });
  return `${namespace}${rendered}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    if (readFileSync(CHART_POLICY, 'utf8') !== chartPolicy() || readFileSync(CHART_DEFAULTS, 'utf8') !== chartConfigDefaults()) {
      console.error('charts/countersign/files/default-policy.yaml is or files/config-defaults.yaml is out of date with policy/default.yaml or the schema: run npm run manifests');
      process.exit(1);
    }
    if (readFileSync(MANIFEST, 'utf8') !== renderManifests()) {
      console.error('manifests/countersign.yaml is out of date with charts/countersign: run npm run manifests');
      process.exit(1);
    }
    console.log('manifests/countersign.yaml matches the chart');
  } else {
    writeFileSync(CHART_DEFAULTS, chartConfigDefaults());
    writeFileSync(CHART_POLICY, chartPolicy());
    writeFileSync(MANIFEST, renderManifests());
    console.log(`wrote ${MANIFEST}`);
  }
}
