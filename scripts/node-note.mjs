// One line instead of npm's wall of EBADENGINE warnings (.npmrc keeps npm's log to errors): the
// Node that runs npm here is older than kubechat's engines.node, which is fine, because every npm
// script and `npx kubechat` run on the Node 24 that the `node` devDependency installs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const npmNode = process.env.npm_node_execpath;
if (npmNode && npmNode !== process.execPath) {
  const version = execFileSync(npmNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const [major, minor] = version.split('.').map(Number);
  const [, wantMajor, wantMinor] = /(\d+)\.(\d+)/.exec(engines.node) ?? [];
  if (major < Number(wantMajor) || (major === Number(wantMajor) && minor < Number(wantMinor))) {
    console.error(
      `kubechat: npm runs on this machine's Node ${version}; kubechat, its scripts and npx kubechat run on its own Node ${process.versions.node} (node_modules/.bin/node)`,
    );
  }
}
