// `countersign webhook-config`: prints the ValidatingWebhookConfiguration for a configuration, as YAML.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { DEFAULT_CONFIG_URL, loadConfigFile } from '../config/load.js';
import { selfDefencePolicies, staticAdmissionConfiguration } from '../deploy/self-defence-policy.js';
import { webhookConfiguration, type ClientConfig } from '../deploy/webhook-configuration.js';
import { UsageError } from './args.js';
import { present } from '../kube/present.js';

function clientConfig(url: string | undefined, service: string | undefined, caBundle: string | undefined): ClientConfig {
  if ((url === undefined) === (service === undefined)) throw new UsageError(['give exactly one of --url or --service']);
  const bundle = caBundle === undefined ? {} : { caBundle };
  if (url !== undefined) return { url, ...bundle };
  const [namespace, name] = (service ?? '').split('/');
  if (namespace === undefined || name === undefined || namespace === '' || name === '') {
    throw new UsageError(['--service: expected NAMESPACE/NAME']);
  }
  return { service: { namespace, name, path: '/validate', port: 443 }, ...bundle };
}

export async function webhookConfigCommand(argv: string[]): Promise<string> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: argv, strict: true, options: { url: { type: 'string' }, service: { type: 'string' }, 'ca-bundle': { type: 'string' }, config: { type: 'string' }, 'timeout-seconds': { type: 'string' } } }).values;
  } catch (error: unknown) {
    throw new UsageError([error instanceof Error ? error.message : String(error)]);
  }
  const loaded = await loadConfigFile(values.config ?? DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new UsageError(['the configuration was refused:', ...loaded.errors]);
  const ca = values['ca-bundle'] === undefined ? undefined : (await readFile(values['ca-bundle'])).toString('base64');
  const timeout = values['timeout-seconds'] === undefined ? undefined : Number(values['timeout-seconds']);
  if (timeout !== undefined && !(Number.isInteger(timeout) && timeout >= 1 && timeout <= 30)) {
    throw new UsageError(['--timeout-seconds: a whole number from 1 to 30 (the apiserver\'s limit)']);
  }
  const object = webhookConfiguration(loaded.policy.config, {
    clientConfig: clientConfig(values.url, values.service, ca),
    ...present({ timeoutSeconds: timeout }),
  });
  return stringify(object, { lineWidth: 0 });
}

/** The one file the static form writes: the apiserver reads every .yaml/.yml/.json file of the directory. */
export const STATIC_MANIFEST_FILE = 'countersign-self-defence.yaml';

/**
 * `countersign self-defence-policy`: the ValidatingAdmissionPolicies that keep agents from switching the guard off.
 * With `--static DIR` it writes them in static form into DIR and returns the AdmissionConfiguration that loads DIR.
 */
export async function selfDefenceCommand(argv: string[]): Promise<string> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({ args: argv, strict: true, options: { config: { type: 'string' }, static: { type: 'string' } } }).values;
  } catch (error: unknown) {
    throw new UsageError([error instanceof Error ? error.message : String(error)]);
  }
  const loaded = await loadConfigFile(values.config ?? DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new UsageError(['the configuration was refused:', ...loaded.errors]);
  const yaml = (object: Record<string, unknown>): string => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false });
  if (values.static === undefined) return yaml(selfDefencePolicies(loaded.policy.config));
  const dir = resolve(values.static);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, STATIC_MANIFEST_FILE), yaml(selfDefencePolicies(loaded.policy.config, 'static')));
  return yaml(staticAdmissionConfiguration(dir));
}
