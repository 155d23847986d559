// Writes dist/build-info.json (run by `npm run build`): the commit and the build time that
// `kubechat version` and `kubechat --version` print. A build outside git says so (commit null). The
// time is SOURCE_DATE_EPOCH when set, so a reproducible build stays reproducible.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';

const root = new URL('..', import.meta.url).pathname;
function git(...args) {
  try {
    return execFileSync('git', args, {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}
const commit = git('rev-parse', 'HEAD');
const dirty =
  commit !== null &&
  git('status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'package.json') !== '';
const epoch = process.env.SOURCE_DATE_EPOCH;
const built = (epoch ? new Date(Number(epoch) * 1000) : new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
await writeFile(
  new URL('../dist/build-info.json', import.meta.url),
  JSON.stringify({ commit, dirty, built }, null, 2) + '\n',
);
