/**
 * Flags in fix texts. A low layer does not know which command runs it, so where its fix names an
 * option it writes `{flag:NAME}` (NAME: the option's canonical name, e.g. `{flag:registry-ca} FILE`).
 * The CLI layer writes each as the running command's own flag (src/cli/fix-flags.ts: e.g. the CA
 * directory is --dir on `ca` commands and --ca-dir on install); read anywhere else, it is `--NAME`.
 */
const PLACEHOLDER = /\{flag:([a-z][a-z0-9-]*)\}/g;

/** The fix with every `{flag:NAME}` written by `flagFor` (default: `--NAME`). */
export function renderFix(template: string, flagFor: (name: string) => string = (n) => `--${n}`): string {
  return template.replace(PLACEHOLDER, (_, name: string) => flagFor(name));
}

/** The NAMEs a fix text refers to. */
export function fixFlagNames(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}
