#!/usr/bin/env node
// kubectl countersign: list, show, approve and reject the requests Countersign recorded for agents' gated actions;
// doctor: the agents' RBAC rights that would defeat it.
import { parseArgs } from 'node:util';
import { apiErrorMessage } from '../kube/api-error.js';
import { parseDuration } from '../kube/duration.js';
import { pluginClient, pluginKubeConfig, type PluginClient } from './client.js';
import { listRequests, showRequest } from './commands.js';
import { answerRequest } from './answer-request.js';
import { credentialProblems, issueAgentCredentials } from './agent-credentials.js';
import { doctor as runDoctor } from './doctor.js';
import { DEFAULT_CONFIG_URL, loadConfigFile } from '../config/load.js';
import type { OutputFormat } from './format.js';
import { MAX_QUOTA_DELETES } from '../approvals/types.js';
import { present } from '../kube/present.js';

const USAGE = `kubectl countersign: human approvals for AI agents' gated actions

Usage:
  kubectl countersign list [-n NAMESPACE | -A] [--all] [-o table|json|yaml]
  kubectl countersign show NAME [-o table|json|yaml]
  kubectl countersign approve NAME --reason TEXT [--sign-key FILE] [--ttl 15m] [--quota N]
      --quota N: a bulk quota - up to N deletes by the same agent of the same resource in the same namespace
                 until the approval expires (for deletes whose rule needs one unsigned approval)
  kubectl countersign reject NAME --reason TEXT
  kubectl countersign agent-credentials AGENT -n NAMESPACE[,NAMESPACE...] [--ttl 1h] [--agents-namespace agents] [--config FILE]
      issues an agent session its own ServiceAccount (you recorded as its owner), a least-privilege Role in the
      namespaces named, and a token valid for --ttl (10m-24h); prints the agent's kubeconfig on stdout
  kubectl countersign doctor [--config FILE] [-o table|json|yaml]
      the rights (RBAC) by which each agent could defeat the guard or escalate, with the binding granting each;
      --config: Countersign's configuration naming the agents (default: the bundled default policy);
      exits 1 when anything is flagged, so CI can run it

Global flags: --kubeconfig FILE, --context NAME, --countersign-namespace NAME (default countersign),
              --signature-namespace NAME (ssh-keygen -n; default countersign.dev, as approvals.signatureNamespace)
`;

const OPTIONS = {
  kubeconfig: { type: 'string' }, context: { type: 'string' }, 'countersign-namespace': { type: 'string' },
  namespace: { type: 'string', short: 'n' }, 'all-namespaces': { type: 'boolean', short: 'A' }, all: { type: 'boolean' },
  output: { type: 'string', short: 'o' }, reason: { type: 'string' }, 'sign-key': { type: 'string' }, ttl: { type: 'string' },
  quota: { type: 'string' },
  'signature-namespace': { type: 'string' },
  config: { type: 'string' },
  'agents-namespace': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class Usage extends Error {}

/** Seconds, from the same duration syntax rules use (`90s`, `15m`, `1h30m`). */
function duration(text: string | undefined): number {
  if (text === undefined) return 15 * 60;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1000) throw new Usage(`--ttl: expected a duration such as 90s, 15m or 1h (got ${JSON.stringify(text)})`);
  return Math.floor(ms / 1000);
}

function quotaOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d{0,3}$/.test(text) || Number(text) > MAX_QUOTA_DELETES) throw new Usage(`--quota: expected a number of deletes from 1 to ${String(MAX_QUOTA_DELETES)} (got ${JSON.stringify(text)})`);
  return Number(text);
}

function outputFormat(text: string | undefined): OutputFormat {
  if (text === undefined) return 'table';
  if (text === 'json' || text === 'yaml' || text === 'table') return text;
  throw new Usage(`-o: expected json or yaml (got ${JSON.stringify(text)})`);
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

interface Context {
  client: PluginClient;
  values: Values;
  output: OutputFormat;
  countersignNamespace: string;
  now: Date;
}

async function list({ client, values, output, now }: Context): Promise<string> {
  const [requests, approvals] = await Promise.all([client.listRequests(), client.listApprovals()]);
  const scope = { allNamespaces: values['all-namespaces'] === true, all: values.all === true, output };
  return listRequests(requests, approvals, values.namespace === undefined ? scope : { ...scope, namespace: values.namespace }, now);
}

async function show({ client, output, now }: Context, name: string): Promise<string> {
  const [request, approvals] = await Promise.all([client.getRequest(name), client.listApprovals()]);
  return showRequest(request, approvals, output, now);
}

async function decide(context: Context, name: string, decision: 'Approve' | 'Reject'): Promise<string> {
  const { values } = context;
  const verb = decision.toLowerCase();
  if (values.reason === undefined || values.reason.trim() === '') throw new Usage(`${verb}: --reason is required`);
  if (decision === 'Reject' && values['sign-key'] !== undefined) throw new Usage('reject: a rejection needs no signature');
  if (decision === 'Reject' && values.quota !== undefined) throw new Usage('reject: a rejection carries no quota');
  const quota = quotaOf(values.quota);
  return answerRequest(context.client, {
    name, decision, reason: values.reason, ttlSeconds: duration(values.ttl),
    signatureNamespace: values['signature-namespace'] ?? 'countersign.dev', countersignNamespace: context.countersignNamespace,
    ...present({ signKey: values['sign-key'], quota }),
  }, context.now);
}

async function doctor({ values, output }: Context): Promise<string> {
  const loaded = await loadConfigFile(values.config ?? DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new Usage(loaded.errors.join('\n'));
  const result = await runDoctor({
    config: loaded.policy.config, output,
    ...present({ countersignNamespace: values['countersign-namespace'], kubeconfig: values.kubeconfig, context: values.context }),
  });
  if (result.flagged) process.exitCode = 1;
  return result.text;
}

async function agentCredentials({ client, values }: Context, agent: string): Promise<string> {
  const loaded = await loadConfigFile(values.config ?? DEFAULT_CONFIG_URL);
  if (!loaded.ok) throw new Usage(loaded.errors.join('\n'));
  const request = {
    agent, agentsNamespace: values['agents-namespace'] ?? 'agents',
    namespaces: (values.namespace ?? '').split(',').map((ns) => ns.trim()).filter((ns) => ns !== ''),
    ttlSeconds: values.ttl === undefined ? 3600 : duration(values.ttl),
    owner: await client.whoami(), config: loaded.policy.config,
  };
  const problems = credentialProblems(request);
  if (problems.length > 0) throw new Usage(problems.join('\n'));
  const issued = await issueAgentCredentials(pluginKubeConfig(values), request);
  process.stderr.write(
    `issued ${request.agentsNamespace}/${agent} for ${request.owner} in ${request.namespaces.join(', ')}; token expires ${issued.expires}. ` +
    'You may not approve this agent\'s requests: ask a colleague.\n',
  );
  return issued.kubeconfig;
}

function named(command: string, name: string | undefined): string {
  if (name === undefined) throw new Usage(`${command}: which request? (kubectl countersign list)`);
  return name;
}

async function run(argv: string[]): Promise<string> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [command, name, ...extra] = positionals;
  if (values.help === true || command === undefined) return USAGE;
  if (extra.length > 0) throw new Usage(`unexpected arguments: ${extra.join(' ')}`);
  const countersignNamespace = values['countersign-namespace'] ?? 'countersign';
  const client = pluginClient({
    countersignNamespace,
    ...present({ kubeconfig: values.kubeconfig, context: values.context }),
  });
  const context: Context = { client, values, output: outputFormat(values.output), countersignNamespace, now: new Date() };
  switch (command) {
    case 'list':
      return list(context);
    case 'show':
      return show(context, named(command, name));
    case 'approve':
      return decide(context, named(command, name), 'Approve');
    case 'reject':
      return decide(context, named(command, name), 'Reject');
    case 'agent-credentials':
      if (name === undefined) throw new Usage('agent-credentials: which agent? (the ServiceAccount name to issue)');
      return agentCredentials(context, name);
    case 'doctor':
      if (name !== undefined) throw new Usage(`doctor: unexpected argument ${name}`);
      return doctor(context);
    default:
      throw new Usage(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
  }
}

run(process.argv.slice(2)).then(
  (text) => { process.stdout.write(text); },
  (error: unknown) => {
    process.stderr.write(`error: ${error instanceof Usage ? error.message : apiErrorMessage(error)}\n`);
    process.exitCode = error instanceof Usage ? 2 : 1;
  },
);
