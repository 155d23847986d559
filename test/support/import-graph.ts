/**
 * The import graph of a source tree, checked against the layers written in docs/architecture.md:
 * every relative import (static, `import type`, `export … from`, dynamic `import()`) must stay in
 * its own folder or go down to a lower layer; no file may sit on an import cycle; only the allowed
 * folders may import a given package. Parsed with TypeScript's own pre-processor, so nothing of
 * the tree is compiled or run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

export interface LayerRules {
  /** Top first: each entry is one layer, a list of peer folders. */
  layers: string[][];
  /** Package prefix (e.g. '@oclif/') → the folders that may import it. */
  packages: Record<string, string[]>;
}

/** Reads the ```layers block of an architecture document: one layer per line, top first. */
export function parseLayers(markdown: string): string[][] {
  const block = /```layers\n([\s\S]*?)```/.exec(markdown);
  if (!block) throw new Error('no ```layers block in the architecture document');
  return block[1]!
    .split('\n')
    .map((line) => line.trim().split(/\s+/).filter(Boolean))
    .filter((layer) => layer.length > 0);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts)$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

/** Relative file → the files and packages it imports (relative ones resolved to .ts paths). */
export function importGraph(root: string): Map<string, { files: string[]; packages: string[] }> {
  const graph = new Map<string, { files: string[]; packages: string[] }>();
  for (const file of sourceFiles(root)) {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const files: string[] = [];
    const packages: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (fileName.startsWith('.')) {
        files.push(relative(root, resolve(dirname(file), fileName.replace(/\.(m?)js$/, '.$1ts'))));
      } else {
        packages.push(fileName);
      }
    }
    graph.set(relative(root, file), { files, packages });
  }
  return graph;
}

const folderOf = (file: string) => (file.includes(sep) ? file.split(sep)[0]! : '.');

/** Every breach of the rules in the tree under `root`, one line each (empty when it holds). */
export function checkImports(root: string, rules: LayerRules): string[] {
  const rank = new Map<string, number>();
  rules.layers.forEach((layer, i) => layer.forEach((folder) => rank.set(folder, rules.layers.length - i)));
  const graph = importGraph(root);
  const problems: string[] = [];
  for (const [file, { files, packages }] of graph) {
    const from = folderOf(file);
    const fromRank = rank.get(from);
    if (fromRank === undefined) problems.push(`${file}: folder ${from}/ is on no layer`);
    for (const target of files) {
      const to = folderOf(target);
      if (to === from) continue;
      const toRank = rank.get(to);
      if (fromRank === undefined || toRank === undefined) continue;
      if (toRank === fromRank) problems.push(`${file} → ${target}: ${from}/ and ${to}/ are peers`);
      else if (toRank > fromRank) problems.push(`${file} → ${target}: uphill (${from}/ is below ${to}/)`);
    }
    for (const pkg of packages) {
      for (const [prefix, allowed] of Object.entries(rules.packages)) {
        if (pkg.startsWith(prefix) && !allowed.includes(from)) {
          problems.push(`${file} → ${pkg}: only ${allowed.join('/, ')}/ may import ${prefix}`);
        }
      }
    }
  }
  for (const cycle of cycles(graph)) problems.push(`import cycle: ${cycle.join(' → ')}`);
  return problems;
}

/** Strongly connected components of more than one file (or a file importing itself), Tarjan. */
function cycles(graph: Map<string, { files: string[] }>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.files ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)!.files.includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}
