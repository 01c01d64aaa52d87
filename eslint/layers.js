// The layering rule of src/: every folder sits on a floor, and an import may only point to its own folder or to a
// folder further down the list. docs/architecture.md draws the same list; test/unit/architecture checks that they agree.
import { dirname, join, normalize, relative, sep } from 'node:path';

/** Bottom to top. A folder may import only folders before it in this list (and itself). */
export const LAYERS = [
  { layer: 'Kubernetes vocabulary and API helpers', folders: ['kube'] },
  { layer: 'Libraries: SSH signatures, CEL, configuration', folders: ['ssh', 'cel', 'config'] },
  { layer: 'The pure decision core', folders: ['core'] },
  {
    layer: 'Stateful services',
    folders: ['cluster', 'picture', 'tls', 'audit', 'approvals', 'rbac', 'activity', 'observability'],
  },
  { layer: 'The webhook pipeline', folders: ['webhook'] },
  { layer: 'Entry points: manifests, server, CLI, kubectl plugin', folders: ['deploy', 'server', 'cli', 'plugin'] },
];

/** Folders whose inside is private: others import only their index.ts. */
export const NARROW_MODULES = ['ssh', 'rbac'];

const ORDER = LAYERS.flatMap((l) => l.folders);

function srcFolder(root, file) {
  const rel = relative(join(root, 'src'), file);
  if (rel.startsWith('..') || rel === '') return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? { folder: parts[0], rest: parts.slice(1).join('/') } : { folder: '', rest: parts[0] };
}

const importsPointDown = {
  meta: {
    type: 'problem',
    docs: { description: 'imports in src/ point down the layers (eslint/layers.js), and narrow modules are entered by index.ts' },
    schema: [],
    messages: {
      upward: "src/{{from}}/ must not import src/{{to}}/: {{to}} sits above {{from}} in eslint/layers.js. Move the shared piece down, or the importer up.",
      unplaced: "src/{{folder}}/ has no floor in eslint/layers.js: add it to LAYERS.",
      narrow: "src/{{to}}/ is entered through src/{{to}}/index.ts only, not {{rest}}.",
    },
  },
  create(context) {
    const root = context.cwd;
    const here = srcFolder(root, context.filename);
    if (here === undefined) return {};
    const check = (node, spec) => {
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const there = srcFolder(root, normalize(join(dirname(context.filename), spec)));
      if (there === undefined || there.folder === here.folder) return;
      for (const folder of [here.folder, there.folder]) {
        if (!ORDER.includes(folder)) { context.report({ node, messageId: 'unplaced', data: { folder } }); return; }
      }
      if (ORDER.indexOf(there.folder) > ORDER.indexOf(here.folder)) {
        context.report({ node, messageId: 'upward', data: { from: here.folder, to: there.folder } });
      } else if (NARROW_MODULES.includes(there.folder) && there.rest.replace(/\.(js|ts)$/, '') !== 'index') {
        context.report({ node, messageId: 'narrow', data: { to: there.folder, rest: there.rest } });
      }
    };
    const fromSource = (node) => { if (node.source) check(node.source, node.source.value); };
    return {
      ImportDeclaration: fromSource,
      ExportNamedDeclaration: fromSource,
      ExportAllDeclaration: fromSource,
      ImportExpression: (node) => { if (node.source.type === 'Literal') check(node.source, node.source.value); },
    };
  },
};

export default { rules: { 'imports-point-down': importsPointDown } };
