/**
 * The exit-code table as Markdown: docs/exit-codes.md, and the same tables between markers in the
 * README. Written by `npm run docs:exit-codes` (scripts/exit-codes.mjs); a unit test compares both
 * files with what this renders, so neither can drift from exit-codes.ts.
 */
import { EXIT_CODE_RANGES, EXIT_CODES, type ExitCodeEntry, type ExitCodeRange } from './exit-codes.js';

export const README_BEGIN =
  '<!-- exit-codes:begin — generated from src/lib/exit-codes.ts by `npm run docs:exit-codes`; edit the table there -->';
export const README_END = '<!-- exit-codes:end -->';

const cell = (text: string) => text.replaceAll('|', '\\|');
const span = (r: ExitCodeRange) => (r.from === r.to ? `${r.from}` : `${r.from}–${r.to}`);

/** The ranges table, then every code: what the README and docs/exit-codes.md both show. */
export function exitCodesTables(): string {
  const lines = ['| codes | for |', '| ---: | --- |'];
  for (const r of EXIT_CODE_RANGES as readonly ExitCodeRange[])
    lines.push(`| ${span(r)} | ${cell(r.reservedFor ? `reserved for ${r.reservedFor}` : r.title)} |`);
  lines.push('', '| code | kind | meaning | typical fix |', '| ---: | --- | --- | --- |');
  for (const e of EXIT_CODES as readonly ExitCodeEntry[])
    lines.push(`| ${e.code} | \`${e.name}\` | ${cell(e.meaning)} | ${cell(e.fix ?? '')} |`);
  return lines.join('\n') + '\n';
}

/** docs/exit-codes.md. */
export function exitCodesDoc(): string {
  return `<!-- Generated from src/lib/exit-codes.ts by \`npm run docs:exit-codes\`: edit the table there, not this file. -->

# Exit codes

Every kubechat command ends with one of these codes; a code not listed is not used. Codes come in
ranges of ten, one per area, so a script can tell the area from the code alone; a range marked
reserved is kept for work that has no codes yet.

A failed command prints one line \`error: …\` and one line \`fix: …\` on stderr. With \`--json\` it
prints \`{"error": {"kind", "exitCode", "message", "fix"}}\` on stdout instead
([schema](../schemas/results/error.schema.json)): \`kind\` is the name in the table below, and
\`exitCode\` its code. Every command's \`--help\` ends with these codes in short form.

${exitCodesTables()}`;
}

/** `readme` with the text between the exit-code markers replaced by the tables. */
export function withReadmeTables(readme: string): string {
  const begin = readme.indexOf(README_BEGIN);
  const end = readme.indexOf(README_END);
  if (begin < 0 || end < begin)
    throw new Error(`README.md: the markers ${README_BEGIN} … ${README_END} are missing`);
  return `${readme.slice(0, begin + README_BEGIN.length)}\n\n${exitCodesTables()}\n${readme.slice(end)}`;
}
