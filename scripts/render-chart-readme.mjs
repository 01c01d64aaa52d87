// Renders charts/countersign/README.md from charts/countersign/values.yaml: every key, its default, and the comment
// lines directly above it (a leading "-- " is dropped), so the chart's documentation is its values file. Usage:
// node scripts/render-chart-readme.mjs [--check] (--check: exit 1 if the README differs from a fresh render; a unit
// test checks the same). Keys without a comment are listed on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const VALUES = join(ROOT, 'charts', 'countersign', 'values.yaml');
export const CHART_README = join(ROOT, 'charts', 'countersign', 'README.md');

const KEY = /^( *)([A-Za-z0-9_.-]+|"[^"]*"|'[^']*'):(?:[ \t]+(.*))?$/;
const COMMENT = /^ *#(.*)$/;

function indentOf(line) {
  return line.length - line.trimStart().length;
}

function unquote(key) {
  return /^["']/.test(key) ? key.slice(1, -1) : key;
}

function valueAt(values, path) {
  let node = values;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function isMap(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** True for a line inside a value that is not a block mapping (a block list, a multi-line scalar or flow collection). */
function insideValue(line, valueIndent) {
  if (valueIndent === undefined) return false;
  if (line.trim() === '') return true;
  const indent = indentOf(line);
  return indent > valueIndent || (indent === valueIndent && line.trimStart().startsWith('-'));
}

/** One key line: its path (the open sections above it, then its own name), its default, and whether it is a section. */
function keyOf(match, stack, values) {
  const indent = match[1].length;
  while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
  const path = [...stack.map((s) => s.key), unquote(match[2])];
  const value = valueAt(values, path);
  const inline = (match[3] ?? '').replace(/(^|\s)#.*$/, '').trim();
  const section = inline === '' && isMap(value) && Object.keys(value).length > 0;
  if (section) stack.push({ indent, key: path[path.length - 1] });
  return { path: path.join('.'), value, section, indent };
}

/**
 * Every key of the values file in order: its path, its default, the comment lines directly above it (no blank line
 * between), and whether it is a section (a block mapping of further keys) rather than a value.
 */
export function valuesKeys(valuesText) {
  const values = parse(valuesText) ?? {};
  const keys = [];
  const stack = [];
  let comments = [];
  let valueIndent;
  for (const line of valuesText.split('\n')) {
    if (insideValue(line, valueIndent)) continue;
    valueIndent = undefined;
    const comment = COMMENT.exec(line);
    const match = comment === null ? KEY.exec(line) : null;
    if (comment !== null) comments.push((comment[1] ?? '').replace(/^ /, ''));
    if (match === null) {
      // A blank line, or anything but a comment or a key, ends the comments above the next key.
      if (comment === null) comments = [];
      continue;
    }
    const { path, value, section, indent } = keyOf(match, stack, values);
    keys.push({ path, value, section, comment: comments.join(' ').replace(/^-- ?/, '').replace(/\s+/g, ' ').trim() });
    comments = [];
    if (!section) valueIndent = indent;
  }
  return keys;
}

/** Markdown outside code spans: `<` and `>` would be taken for HTML, `|` would end the table cell. */
function cell(text) {
  return text
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith('`') ? part.replaceAll('|', '\\|') : part.replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('|', '\\|')))
    .join('');
}

function defaultCell(key) {
  if (key.section) return '';
  return `\`${JSON.stringify(key.value).replaceAll('|', '\\|')}\``;
}

/** The README for a values file's text. */
export function renderChartReadme(valuesText) {
  // A section without a comment says nothing its keys' paths do not.
  const rows = valuesKeys(valuesText)
    .filter((key) => !key.section || key.comment !== '')
    .map((key) => `| \`${key.path}\` | ${defaultCell(key)} | ${cell(key.comment)} |`);
  return [
    '<!-- Generated from values.yaml by scripts/render-chart-readme.mjs (npm run manifests); do not edit by hand. -->',
    '# The Countersign Helm chart',
    '',
    'A validating admission webhook that puts a two-person rule between AI agents and production: agents\' requests',
    'are judged by CEL rules about environment and impact, and the risky ones wait for a human\'s approval. Humans,',
    'controllers and system components never reach it.',
    '',
    'From the repository root:',
    '',
    '```',
    'helm install countersign charts/countersign --namespace countersign --create-namespace',
    '```',
    '',
    'What the chart installs, TLS modes, the values users set most, upgrade and uninstall:',
    '[docs/install.md](../../docs/install.md).',
    '',
    '## Values',
    '',
    'Every value is validated by `values.schema.json`; unknown keys are refused. A row without a default describes the',
    'keys below it.',
    '',
    '| key | default | description |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const valuesText = readFileSync(VALUES, 'utf8');
  const fresh = renderChartReadme(valuesText);
  const uncommented = valuesKeys(valuesText).filter((key) => key.comment === '').map((key) => key.path);
  if (uncommented.length > 0) console.error(`values.yaml keys without a comment: ${uncommented.join(', ')}`);
  if (process.argv.includes('--check')) {
    if (readFileSync(CHART_README, 'utf8') !== fresh) {
      console.error('charts/countersign/README.md is out of date with values.yaml: run npm run manifests');
      process.exit(1);
    }
    console.log('charts/countersign/README.md matches values.yaml');
  } else {
    writeFileSync(CHART_README, fresh);
    console.log(`wrote ${CHART_README}`);
  }
}
