/**
 * The layers of docs/architecture.md hold for src/: imports run downhill only, no cycles, oclif
 * only in cli/ and commands/. The checker itself is tested on small trees that break each rule.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkImports, parseLayers, type LayerRules } from '../support/import-graph.js';
import { ROOT } from '../support/cli.js';

const rules: LayerRules = {
  layers: parseLayers(readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8')),
  packages: { '@oclif/': ['cli', 'commands'] },
};

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'import-graph-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('src/ against docs/architecture.md', () => {
  it('every folder of src/ is on a layer, and every import runs downhill with no cycle', () => {
    expect(checkImports(join(ROOT, 'src'), rules)).toEqual([]);
  });
});

describe('the import checker', () => {
  const small: LayerRules = {
    layers: [['commands'], ['services', 'validate'], ['lib']],
    packages: { '@oclif/': ['commands'] },
  };

  it('Given a lower folder importing a higher one, it names the file and says uphill', () => {
    const root = tree({
      'lib/a.ts': "import { b } from '../services/b.js';\nexport const a = b;\n",
      'services/b.ts': 'export const b = 1;\n',
    });
    expect(checkImports(root, small)).toEqual(['lib/a.ts → services/b.ts: uphill (lib/ is below services/)']);
  });

  it('Given an `import type` or a dynamic import uphill, it counts them too', () => {
    const root = tree({
      'lib/a.ts': "import type { B } from '../services/b.js';\nexport type A = B;\n",
      'lib/c.ts': "export const c = () => import('../commands/x.js');\n",
      'services/b.ts': 'export type B = number;\n',
      'commands/x.ts': 'export const x = 1;\n',
    });
    expect(checkImports(root, small)).toEqual([
      'lib/a.ts → services/b.ts: uphill (lib/ is below services/)',
      'lib/c.ts → commands/x.ts: uphill (lib/ is below commands/)',
    ]);
  });

  it('Given peers importing each other, a cycle, a package outside its folders and a folder on no layer, it reports each', () => {
    const root = tree({
      'services/a.ts':
        "import { v } from '../validate/v.js';\nimport { Command } from '@oclif/core';\nexport const a = [v, Command];\n",
      'validate/v.ts': "import { w } from './w.js';\nexport const v = w;\n",
      'validate/w.ts': "import { v } from './v.js';\nexport const w = () => v;\n",
      'extra/x.ts': 'export const x = 1;\n',
    });
    expect(checkImports(root, small).sort()).toEqual([
      'extra/x.ts: folder extra/ is on no layer',
      'import cycle: validate/v.ts → validate/w.ts',
      'services/a.ts → @oclif/core: only commands/ may import @oclif/',
      'services/a.ts → validate/v.ts: services/ and validate/ are peers',
    ]);
  });

  it('Given imports that run downhill, it finds nothing', () => {
    const root = tree({
      'commands/c.ts':
        "import { s } from '../services/s.js';\nimport { l } from '../lib/l.js';\nimport '@oclif/core';\nexport const c = [s, l];\n",
      'services/s.ts': "import { l } from '../lib/l.js';\nexport const s = l;\n",
      'lib/l.ts': 'export const l = 1;\n',
    });
    expect(checkImports(root, small)).toEqual([]);
  });
});
