/**
 * Packs a chart directory the way `helm package` does, minus its non-determinism: files selected by
 * .helmignore (helm pkg/ignore semantics, quirks included), stored under `<name>/` in sorted order
 * with fixed mtime, owner and mode 0644, gzipped without a timestamp. Same directory, same bytes.
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar/header';
import { Pax } from 'tar/pax';
import { describeFsError, sourceError } from '../lib/errors.js';

/** 1980-01-01T00:00:00Z: a fixed, plausible mtime for every entry (1970 makes some tools warn). */
export const CHART_MTIME = new Date(315532800 * 1000);
/** Helm's own limit on a chart's decompressed size. */
const MAX_CHART_BYTES = 100 * 1024 * 1024;

// ---- .helmignore (helm pkg/ignore): per line, # comments, trailing / = directories only, leading / or
// any / = match the whole relative path, otherwise the base name; Go filepath.Match globs; no **.

interface IgnoreRule {
  negate: boolean;
  mustDir: boolean;
  wholePath: boolean;
  re: RegExp;
}

function globToRegExp(glob: string, file: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < glob.length) re += `\\${glob[++i] as string}`;
    else if (c === '[') {
      // Go classes: [abc], [a-z], [^abc]; the same syntax in a JS class.
      const end = glob.indexOf(']', i + 1);
      if (end === -1) throw sourceError(`${file}: bad pattern "${glob}"`, 'close the [ ] character class');
      re += `[${glob.slice(i + 1, end)}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function parseIgnore(text: string, file: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  // Helm always adds templates/.?* : dotfiles in templates/ never ship.
  for (const raw of ['templates/.?*', ...text.split(/\r?\n/)]) {
    let rule = raw.trim();
    if (rule === '' || rule.startsWith('#')) continue;
    if (rule.includes('**'))
      throw sourceError(`${file}: "${rule}": ** is not supported by Helm`, 'use * patterns');
    const negate = rule.startsWith('!');
    if (negate) rule = rule.slice(1);
    const mustDir = rule.endsWith('/');
    if (mustDir) rule = rule.slice(0, -1);
    const wholePath = rule.includes('/');
    rules.push({ negate, mustDir, wholePath, re: globToRegExp(rule.replace(/^\//, ''), file) });
  }
  return rules;
}

/** Helm's evaluation, quirks included: a negated rule that does NOT match ignores the path. */
function ignored(rules: IgnoreRule[], rel: string, isDir: boolean): boolean {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  for (const r of rules) {
    const hit = r.re.test(r.wholePath ? rel : base);
    if (r.negate) {
      if ((r.mustDir && !isDir) || !hit) return true;
    } else if ((!r.mustDir || isDir) && hit) return true;
  }
  return false;
}

async function collectFiles(dir: string, rules: IgnoreRule[]): Promise<Array<{ rel: string; abs: string }>> {
  const out: Array<{ rel: string; abs: string }> = [];
  const seen = new Set<string>();
  const walk = async (abs: string, rel: string): Promise<void> => {
    const real = await realpath(abs);
    if (seen.has(real)) return; // a symlinked directory loop
    seen.add(real);
    for (const name of (await readdir(abs)).sort()) {
      const childAbs = join(abs, name);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const st = await stat(childAbs).catch(async () => lstat(childAbs)); // dangling link: lstat
      if (ignored(rules, childRel, st.isDirectory())) continue;
      if (st.isDirectory()) await walk(childAbs, childRel);
      else if (st.isFile()) out.push({ rel: childRel, abs: childAbs });
      else
        throw sourceError(
          `${childAbs}: not a regular file`,
          'remove it from the chart or list it in .helmignore',
        );
    }
  };
  await walk(dir, '');
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

function tarEntry(path: string, data: Buffer): Buffer[] {
  const fields = {
    path,
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: CHART_MTIME,
    uname: '',
    gname: '',
  };
  const header = new Header({ ...fields, type: 'File' });
  const parts: Buffer[] = [];
  if (header.encode()) parts.push(new Pax(fields).encode()); // long or non-ASCII path
  if (!header.block) throw new Error(`tar header for ${path} not encoded`);
  parts.push(header.block, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  return parts;
}

/** The chart's files (after .helmignore) by relative path, and its `helm package` style tgz. */
export async function packageChart(
  dir: string,
  name: string,
  extra: Map<string, Buffer> = new Map(),
): Promise<{ files: Map<string, Buffer>; tgz: Buffer }> {
  const ignoreFile = join(dir, '.helmignore');
  const ignoreText = await readFile(ignoreFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return '';
    throw describeFsError(err, ignoreFile, 'read', true) ?? err;
  });
  const files = new Map<string, Buffer>();
  const parts: Buffer[] = [];
  let total = 0;
  const collected: Array<{ rel: string; abs: string; data?: Buffer }> = [
    ...(await collectFiles(dir, parseIgnore(ignoreText, ignoreFile))).filter((f) => !extra.has(f.rel)),
    ...[...extra].map(([rel, data]) => ({ rel, abs: join(dir, rel), data })),
  ].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  for (const f of collected) {
    const data = f.data ?? (await readFile(f.abs));
    total += data.length;
    if (total > MAX_CHART_BYTES)
      throw sourceError(`${dir}: chart is larger than 100 MiB`, 'list large files in .helmignore');
    files.set(f.rel, data);
    parts.push(...tarEntry(`${name}/${f.rel}`, data));
  }
  parts.push(Buffer.alloc(1024));
  return { files, tgz: gzipSync(Buffer.concat(parts)) };
}
