// What doctor prints: a table per agent for people, the whole report as JSON or YAML for CI.
import type { DoctorReport, Finding } from '../rbac/index.js';
import { printable, render, table, type OutputFormat } from './format.js';
import { ALL, WRITE_VERBS, type Target } from '../rbac/index.js';

/** Past this many resources a table cell says how many more there are; JSON and YAML list them all. */
const MAX_RESOURCES = 2;

function resourceText(t: Target): string {
  if (t.anySubresource === true) return `${t.resource}/*`;
  return t.subresource === undefined ? t.resource : `${t.resource}/${t.subresource}`;
}

function groupText(group: string): string {
  if (group === '') return '';
  return group === ALL ? ' (any group)' : ` (${group})`;
}

// Every write verb is the common case for tampering; spelt out it would make the column unreadably wide.
function verbsText(verbs: string[]): string {
  return WRITE_VERBS.every((v) => verbs.includes(v)) ? ['write', ...verbs.filter((v) => !(WRITE_VERBS as readonly string[]).includes(v))].join(',') : verbs.join(',');
}

/** `create,update validatingwebhookconfigurations,... (admissionregistration.k8s.io); pods,services [names: a]` */
export function rightText(finding: Finding, max = MAX_RESOURCES): string {
  if (finding.verbs.includes(ALL) && finding.resources.some((t) => t.resource === ALL && t.group === ALL)) return '* *';
  const shown = finding.resources.slice(0, max);
  const groups = [...new Set(shown.map((t) => t.group))];
  const parts = groups.map((g) => `${shown.filter((t) => t.group === g).map(resourceText).join(',')}${groupText(g)}`);
  const more = finding.resources.length > max ? ` +${finding.resources.length - max} more` : '';
  const names = finding.resourceNames.length === 0 ? '' : ` [names: ${finding.resourceNames.join(',')}]`;
  return `${verbsText(finding.verbs)} ${parts.join('; ')}${more}${names}`;
}

function grantText({ grantedBy }: Finding): string {
  return `${grantedBy.binding} -> ${grantedBy.role}${grantedBy.via === undefined ? '' : `, via ${grantedBy.via}`}`;
}

const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;

export function summaryLine({ summary }: DoctorReport): string {
  return `${plural(summary.agents, 'agent identity', 'agent identities')}, ${plural(summary.findings, 'finding', 'findings')}`;
}

const indent = (text: string): string => text.split('\n').map((line) => (line === '' ? line : `  ${line}`)).join('\n');

function doctorTable(report: DoctorReport): string {
  const sections = report.agents.map((agent) => {
    const title = printable(agent.agent);
    const notes = agent.notes.map((note) => `  note: ${printable(note)}\n`).join('');
    if (agent.findings.length === 0) return `${title}: nothing flagged\n${notes}`;
    // The reason last: it is prose, and a long one then overflows no other column.
    const rows = agent.findings.map((f) => [rightText(f), f.scope, grantText(f), f.why]);
    return `${title}\n${indent(table(['RIGHT', 'SCOPE', 'GRANTED BY', 'WHY'], rows))}${notes}`;
  });
  const none = report.agents.length === 0 ? 'No agent identities found in RBAC or ServiceAccounts.\n' : '';
  return `${none}${sections.join('\n')}\n${summaryLine(report)}\n`;
}

export function renderDoctor(report: DoctorReport, format: OutputFormat): string {
  return render(format, report, () => doctorTable(report));
}
