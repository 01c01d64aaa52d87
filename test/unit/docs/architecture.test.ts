// The layering rule is real: eslint/layers.js refuses an upward import and a side entrance into a narrow module,
// names every src/ folder, and docs/architecture.md's folder map shows the same floors in the same order.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface Layers {
  LAYERS: { layer: string; folders: string[] }[];
  NARROW_MODULES: string[];
  default: { rules: Record<string, unknown> };
}

async function layers(): Promise<Layers> {
  // A plain ESM module without type declarations: imported by URL and given its shape here.
  return (await import(pathToFileURL(join(ROOT, 'eslint', 'layers.js')).href)) as Layers;
}

async function lint(file: string, code: string): Promise<string[]> {
  const plugin = (await layers()).default;
  const linter = new Linter({ cwd: ROOT });
  const config = [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { layers: plugin }, rules: { 'layers/imports-point-down': 'error' } }];
  // eslint's flat-config types do not describe a plugin loaded at run time; the shape is checked by the results.
  return linter.verify(code, config as Linter.Config[], { filename: join(ROOT, file) }).map((m) => m.message);
}

describe('the layers of src/', () => {
  it('refuse an import that points up, and allow one that points down', async () => {
    expect(await lint('src/kube/x.ts', "import { LOG_LEVELS } from '../observability/logger.js';\nexport const x = LOG_LEVELS;\n"))
      .toEqual(['src/kube/ must not import src/observability/: observability sits above kube in eslint/layers.js. Move the shared piece down, or the importer up.']);
    expect(await lint('src/core/x.ts', "export { TIER } from '../config/tiers.js';\nexport const later = import('../webhook/decode.js');\n"))
      .toEqual(['src/core/ must not import src/webhook/: webhook sits above core in eslint/layers.js. Move the shared piece down, or the importer up.']);
    expect(await lint('src/webhook/x.ts', "import { TIER } from '../config/tiers.js';\nexport const x = TIER;\n")).toEqual([]);
  });

  it('let others into a narrow module only through its index.ts', async () => {
    expect(await lint('src/approvals/x.ts', "import { matchPatternList } from '../ssh/pattern.js';\nexport const x = matchPatternList;\n"))
      .toEqual(['src/ssh/ is entered through src/ssh/index.ts only, not pattern.js.']);
    expect(await lint('src/approvals/x.ts', "import { verifySshSignature } from '../ssh/index.js';\nexport const x = verifySshSignature;\n")).toEqual([]);
  });

  it('place every folder of src/ on a floor, and the architecture page draws the same floors', async () => {
    const order = (await layers()).LAYERS.flatMap((l) => l.folders);
    const folders = readdirSync(join(ROOT, 'src'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    expect(folders.length).toBeGreaterThan(10);
    expect([...order].sort()).toEqual([...folders].sort());
    const page = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');
    const map = page.slice(page.indexOf('## Folder map'), page.indexOf('## The layering rule'));
    const drawn = [...map.matchAll(/^\| [^|]+ \| `src\/([a-z]+)\/` \|/gm)].map((m) => m[1]);
    expect(drawn).toEqual([...order].reverse());
  });
});
