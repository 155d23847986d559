/**
 * Hostile bundles for the air-gapped side: tar entries crafted by hand (headers from node-tar's
 * encoder or raw bytes) after a genuine manifest, compressed with the zstd CLI. Each must be refused
 * with a one-line format error (exit 5) naming the entry, before the reader hands out that entry or
 * anything after it, so nothing is ever written for it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Header, Pax, type HeaderData } from 'tar';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/bundle/manifest.js';
import { openBundle, streamEntries } from '../../src/bundle/reader.js';
import { END_OF_ARCHIVE, encodeHeader, padding } from '../../src/bundle/tar.js';
import { createBundle } from '../support/create-bundle.js';
import { verifyBundle } from '../../src/install/verify-bundle.js';
import { kubechat } from '../support/cli.js';
import { failure } from '../support/helpers.js';
import { makeWorkspace } from '../support/workspace.js';

const MTIME = new Date('2026-01-01T00:00:00Z');
let dir: string;
let manifestBytes: Buffer;

/** A regular file entry from our own encoder. */
const file = (path: string, data: Buffer | string = 'x'): Buffer => {
  const d = Buffer.from(data);
  return Buffer.concat([encodeHeader(path, d.length, MTIME), d, Buffer.alloc(padding(d.length))]);
};

/** A raw header block of any type, with optional data. */
function raw(fields: HeaderData, data: Buffer | string = ''): Buffer {
  const d = Buffer.from(data);
  const h = new Header({ mode: 0o644, uid: 0, gid: 0, mtime: MTIME, size: d.length, ...fields });
  const block = Buffer.alloc(512);
  h.encode(block, 0);
  return Buffer.concat([block, d, Buffer.alloc(padding(d.length))]);
}

/** A pax extended header ('x') carrying exactly `records`, written byte by byte. */
function paxHeader(records: Record<string, string>): Buffer {
  const body = Object.entries(records)
    .map(([k, v]) => {
      const rest = ` ${k}=${v}\n`;
      let len = rest.length + 1;
      while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
      return `${len}${rest}`;
    })
    .join('');
  return raw({ path: 'PaxHeader/x', type: 'ExtendedHeader' }, body);
}

/** manifest, a harmless entry, the hostile bytes, an entry after them, end of archive; zstd -c. */
async function craft(name: string, hostile: Buffer): Promise<string> {
  const tar = Buffer.concat([
    file('kubechat-bundle.json', manifestBytes),
    file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'),
    hostile,
    file('files/after.txt', 'after'),
    END_OF_ARCHIVE,
  ]);
  const out = join(dir, `${name}.kcb.tar.zst`);
  const z = spawnSync('zstd', ['-q', '-c'], { input: tar, maxBuffer: 1 << 28 });
  expect(z.status).toBe(0);
  await writeFile(out, z.stdout);
  return out;
}

beforeAll(async () => {
  const ws = await makeWorkspace();
  const spec = await ws.spec('1.0.0', { ggufSize: 256 * 1024, layerSize: 16 * 1024 });
  const r = await createBundle({ specPath: spec, outDir: ws.out });
  manifestBytes = (await openBundle(r.bundle)).manifestBytes;
  dir = await mkdtemp(join(tmpdir(), 'kubechat-hostile-'));
});

const cases: Array<[string, () => Buffer, RegExp]> = [
  [
    'a ../ path',
    () => file('files/../../etc/cron.d/evil'),
    /unsafe tar entry path "files\/\.\.\/\.\.\/etc\/cron\.d\/evil"/,
  ],
  ['an absolute path', () => file('/etc/passwd'), /unsafe tar entry path "\/etc\/passwd": it is absolute/],
  ['a non-canonical path (./)', () => file('files/./docs/a.md'), /not in canonical form/],
  ['an empty path component', () => file('files//a.md'), /not in canonical form/],
  [
    'a symlink',
    () => raw({ path: 'files/link', type: 'SymbolicLink', linkpath: '/etc/shadow' }),
    /"files\/link" of type SymbolicLink \(a symlink to "\/etc\/shadow"\)/,
  ],
  [
    'a hard link',
    () => raw({ path: 'files/hard', type: 'Link', linkpath: '../../etc/shadow' }),
    /"files\/hard" of type Link \(a hard link to "\.\.\/\.\.\/etc\/shadow"\)/,
  ],
  [
    'a character device',
    () => raw({ path: 'files/null', type: 'CharacterDevice', devmaj: 1, devmin: 3 }),
    /of type CharacterDevice \(a device file\)/,
  ],
  ['a FIFO', () => raw({ path: 'files/pipe', type: 'FIFO' }), /of type FIFO \(a FIFO\)/],
  [
    'a GNU long name that climbs out',
    () =>
      Buffer.concat([
        raw({ path: '././@LongLink', type: 'NextFileHasLongPath' }, '../../../../tmp/evil\0'),
        file('files/innocent.txt'),
      ]),
    /of type NextFileHasLongPath \(a GNU long-name header/,
  ],
  [
    'a pax path that climbs out',
    () =>
      Buffer.concat([new Pax({ path: `files/${'../'.repeat(8)}tmp/evil` }).encode(), file('files/ok.txt')]),
    /unsafe tar entry path "files\/(\.\.\/){8}tmp\/evil"/,
  ],
  [
    'a pax linkpath record',
    () => Buffer.concat([paxHeader({ path: 'files/a.txt', linkpath: '/etc/passwd' }), file('files/a.txt')]),
    /pax header at byte \d+ sets "linkpath", which bundles never use/,
  ],
  [
    'a pax sparse-file record',
    () => Buffer.concat([paxHeader({ 'GNU.sparse.map': '0,1' }), file('files/s.bin')]),
    /sets "GNU\.sparse\.map"/,
  ],
  [
    'a pax global header',
    () =>
      Buffer.concat([
        raw({ path: 'g', type: 'GlobalExtendedHeader' }, '19 path=../../evil\n'),
        file('files/b.txt'),
      ]),
    /of type GlobalExtendedHeader/,
  ],
  [
    'a duplicate path',
    () => Buffer.concat([file('files/dup.txt', 'one'), file('files/dup.txt', 'two')]),
    /"files\/dup\.txt" appears twice/,
  ],
];

describe('hostile bundle entries', () => {
  it.each(cases)(
    'Given %s, When streamed, Then exit 5 before the entry or anything after it is handed out',
    async (name, hostile, message) => {
      const path = await craft(name.replace(/\W+/g, '-'), hostile());
      const seen: string[] = [];
      const err = await failure(
        (async () => {
          for await (const e of streamEntries(await openBundle(path))) seen.push(e.path);
        })(),
      );
      expect(err.exitCode).toBe(5);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('\n');
      expect(err.fix).toBeTruthy();
      // Only what came before the hostile bytes was handed out (the duplicate's first copy is fine).
      expect(seen.filter((p) => p !== 'files/dup.txt')).toEqual(['kubechat-bundle.json', 'oci-layout']);
      await expect(verifyBundle({ bundlePath: path })).rejects.toMatchObject({ exitCode: 5 });
    },
  );

  it('Given a symlink entry, When kubechat bundle verify runs, Then one error line, one fix line, exit 5', async () => {
    const path = await craft('cli-symlink', raw({ path: 'files/link', type: 'SymbolicLink', linkpath: '/' }));
    const r = await kubechat(['bundle', 'verify', path]);
    expect(r.code).toBe(5);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('error:') || l.startsWith('fix:'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^error: .*"files\/link" of type SymbolicLink/);
  });

  it.each(['../x', '/abs', 'files/./a', 'a\\b'])(
    'Given a manifest that lists %s, When parsed, Then it is refused (exit 5) before any entry is read',
    async (bad) => {
      const m = JSON.parse(manifestBytes.toString()) as { contents: Array<{ path: string }> };
      m.contents[0]!.path = bad;
      const err = await failure(
        Promise.resolve().then(() => parseManifest(Buffer.from(JSON.stringify(m)), 'hostile')),
      );
      expect(err.exitCode).toBe(5);
      expect(err.message).toContain('lists an unsafe path');
    },
  );
});
