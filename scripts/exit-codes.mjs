// Writes docs/exit-codes.md and the README's exit-code tables from the table in src/lib/exit-codes.ts
// (run after tsc: it reads dist/). `--check` writes nothing and fails when either file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { exitCodesDoc, withReadmeTables } from '../dist/lib/exit-codes-doc.js';

const check = process.argv.includes('--check');
const files = [
  [new URL('../docs/exit-codes.md', import.meta.url), () => exitCodesDoc()],
  [new URL('../README.md', import.meta.url), (old) => withReadmeTables(old)],
];
let stale = 0;
for (const [url, render] of files) {
  const old = await readFile(url, 'utf8').catch(() => '');
  const text = render(old);
  if (text === old) continue;
  if (check) {
    process.stderr.write(`${url.pathname} is stale: run npm run docs:exit-codes\n`);
    stale++;
  } else await writeFile(url, text);
}
process.exitCode = stale ? 1 : 0;
