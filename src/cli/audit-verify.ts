// `countersign audit-verify [FILE|-] [--anchors EVENTS.json]`: checks the approval audit chains in a log. Exit 0
// when intact, 1 when broken (the first break, with its line, is printed), 2 on usage errors.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { anchorsFromEvents, formatVerdict, verifyAuditLog, type SourcedAnchor } from '../audit/verify.js';
import { UsageError } from './args.js';

function readInput(path: string, what: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (error: unknown) {
    throw new UsageError([`cannot read ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`]);
  }
}

function readAnchors(path: string | undefined): SourcedAnchor[] {
  if (path === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readInput(path, 'the Events file'));
  } catch (error: unknown) {
    if (error instanceof UsageError) throw error;
    throw new UsageError([`--anchors ${path}: not JSON (expected \`kubectl get events -n <countersign namespace> -o json\`)`]);
  }
  const { anchors, problems } = anchorsFromEvents(parsed);
  if (problems.length > 0) throw new UsageError([`--anchors ${path}:`, ...problems]);
  return anchors;
}

/** The report to print and the exit code. */
export function auditVerifyCommand(argv: string[]): { output: string; exitCode: number } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { anchors: { type: 'string' } } });
  } catch (error: unknown) {
    throw new UsageError([error instanceof Error ? error.message : String(error)]);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(['audit-verify takes one log file (or - for standard input)']);
  const file = positionals[0] ?? '-';
  if (values.anchors === '-' && file === '-') throw new UsageError(['the log and --anchors cannot both be standard input']);
  const anchors = readAnchors(values.anchors);
  const verdict = verifyAuditLog(readInput(file, 'the log').split('\n'), anchors);
  return { output: `${formatVerdict(verdict)}\n`, exitCode: verdict.ok ? 0 : 1 };
}
