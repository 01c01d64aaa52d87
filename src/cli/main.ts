#!/usr/bin/env node
// Countersign's command line: serve, evaluate, check, audit-verify.
import '../cel/guards.js';
import { readFileSync } from 'node:fs';
import { parseCheckArgs, parseEvaluateArgs, parseServeArgs, UsageError } from './args.js';

const USAGE = `Usage:
  countersign serve [--config FILE] [--address ADDR] [--port N]
                    (--tls-cert FILE --tls-key FILE
                     | --tls-secret NAME --tls-hosts HOST,... --webhook-configuration NAME)
                    [--cluster FILE | --kubeconfig FILE] [--log-level LEVEL] [--reload-interval-ms N]
                    [--capture-dir DIR]
  countersign evaluate --review FILE|- [--cluster FILE] [--config FILE] [--identities FILE]
  countersign check --config FILE
  countersign webhook-config (--url URL | --service NAMESPACE/NAME) [--ca-bundle FILE] [--config FILE]
  countersign self-defence-policy [--config FILE]   (apply with webhook-config's output: the webhook skips the
                                                    namespaces these policies guard)
  countersign self-defence-policy --static DIR [--config FILE]   (writes them as kube-apiserver static manifests
                                                    into DIR, prints the AdmissionConfiguration that loads DIR)
  countersign remove-webhook-config --name NAME [--kubeconfig FILE]
  countersign audit-verify [FILE|-] [--anchors EVENTS.json]   (checks the approval audit log's hash chains:
                                                    exit 0 intact, 1 broken, 2 usage)
  countersign version`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { serve } = await import('./serve.js');
      await serve(parseServeArgs(rest));
      return;
    }
    case 'evaluate': {
      const { evaluate } = await import('./evaluate.js');
      process.stdout.write(`${await evaluate(parseEvaluateArgs(rest))}\n`);
      return;
    }
    case 'check': {
      const { loadConfigFile } = await import('../config/load.js');
      const { config } = parseCheckArgs(rest);
      const result = await loadConfigFile(config);
      if (!result.ok) throw new UsageError(result.errors);
      for (const warning of result.warnings) process.stderr.write(`warning: ${warning}\n`);
      process.stdout.write(`${config}: ok (${result.policy.rules.length} rules)\n`);
      return;
    }
    case 'remove-webhook-config': {
      const { removeWebhookConfigCommand } = await import('./remove-webhook-config.js');
      process.stdout.write(await removeWebhookConfigCommand(rest));
      return;
    }
    case 'self-defence-policy': {
      const { selfDefenceCommand } = await import('./webhook-config.js');
      process.stdout.write(await selfDefenceCommand(rest));
      return;
    }
    case 'webhook-config': {
      const { webhookConfigCommand } = await import('./webhook-config.js');
      process.stdout.write(await webhookConfigCommand(rest));
      return;
    }
    case 'audit-verify': {
      const { auditVerifyCommand } = await import('./audit-verify.js');
      const { output, exitCode } = auditVerifyCommand(rest);
      process.stdout.write(output);
      process.exitCode = exitCode;
      return;
    }
    case 'version':
      process.stdout.write(`${version()}\n`);
      return;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      throw new UsageError([`unknown command ${JSON.stringify(command)}`, USAGE]);
  }
}

run(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`countersign: ${error.problems.join('\n  ')}\n`);
    process.exitCode = 2;
    return;
  }
  process.stderr.write(`countersign: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
