#!/usr/bin/env node
// V8's code cache for the CLI's modules (in $TMPDIR/node-compile-cache; NODE_DISABLE_COMPILE_CACHE=1
// turns it off): start-up is most of a no-op run, such as an install re-run. A cache that cannot be
// written is skipped silently. Static imports would load before this line: oclif is imported after.
// A namespace import, so an older Node (without enableCompileCache) still starts and can print
// the engines warning instead of a SyntaxError.
import * as nodeModule from 'node:module';
import { readFileSync } from 'node:fs';

nodeModule.enableCompileCache?.();

// Our own engines check, against kubechat's package.json. oclif's (on by default) checks oclif's
// engines instead, and loads all of semver (47 modules, a good part of a no-op run) to do it.
const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const want = /^>=\s*(\d+)(?:\.(\d+))?/.exec(engines?.node ?? '');
const [major, minor] = process.versions.node.split('.').map(Number);
if (want && (major < Number(want[1]) || (major === Number(want[1]) && minor < Number(want[2] ?? 0)))) {
  process.emitWarning(
    `kubechat needs Node ${engines.node}, this is ${process.versions.node}: run it as \`npx kubechat\` from its ` +
      'package (it brings Node 24), or install Node 24 LTS',
  );
}
process.env.OCLIF_DISABLE_ENGINE_WARNING ??= '1';

// Whoever reads our output may go early (`kubechat --help | head -1`). Then the rest of the output
// is dropped, and the command still finishes its work and exits with its own code. oclif waits for
// stdout to drain at the end: release it, or Node would exit with an "unsettled top-level await"
// warning (exit 13) instead.
process.stdout.on('error', (err) => {
  if (err.code !== 'EPIPE') throw err;
  process.stdout.write = () => true;
  process.stdout.emit('drain');
});

// `kubechat --version` is `kubechat version --short`: oclif's own prints no commit or build date.
const argv = process.argv.slice(2);
const { execute } = await import('@oclif/core');
await execute({
  dir: import.meta.url,
  args: argv.length === 1 && argv[0] === '--version' ? ['version', '--short'] : argv,
});
