import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planFiles } from '../../src/sources/files.js';
import { sourceFailure } from '../support/helpers.js';

async function tree(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubechat-files-'));
  await mkdir(join(dir, 'docs', 'guide'), { recursive: true });
  await writeFile(join(dir, 'docs', 'b.md'), 'bb');
  await writeFile(join(dir, 'docs', 'a.md'), 'a');
  await writeFile(join(dir, 'docs', 'guide', 'run.sh'), '#!/bin/sh\n', { mode: 0o750 });
  return dir;
}

describe('planFiles', () => {
  it('Given a directory, When planned, Then every file is listed under files/<target>/, sorted, with its size and mode', async () => {
    const dir = await tree();
    const set = await planFiles({ path: 'docs', target: 'docs' }, dir);
    expect(set.files.map((f) => [f.path, f.size, f.mode.toString(8)])).toEqual([
      ['files/docs/a.md', 1, '644'],
      ['files/docs/b.md', 2, '644'],
      ['files/docs/guide/run.sh', 10, '755'],
    ]);
    expect(set.files[0]!.source).toBe(join(dir, 'docs', 'a.md'));
  });

  it('Given a single file, When planned, Then it lands directly under the target', async () => {
    const dir = await tree();
    const set = await planFiles({ path: 'docs/a.md', target: 'manifests/extra' }, dir);
    expect(set.files.map((f) => f.path)).toEqual(['files/manifests/extra/a.md']);
  });

  it('Given a symlink to a sibling directory, Then its files are copied under the link name too', async () => {
    const dir = await tree();
    await symlink('guide', join(dir, 'docs', 'latest'));
    const set = await planFiles({ path: 'docs', target: 'docs' }, dir);
    expect(set.files.map((f) => f.path)).toContain('files/docs/latest/run.sh');
  });

  it('Given a symlink back up the tree, Then it is a source error naming the loop', async () => {
    const dir = await tree();
    await symlink('..', join(dir, 'docs', 'guide', 'up'));
    const err = await sourceFailure(planFiles({ path: 'docs', target: 'docs' }, dir));
    expect(err.message).toMatch(/guide\/up: symbolic link loop/);
  });

  it('Given a missing path, Then it is a source error naming it', async () => {
    const dir = await tree();
    const err = await sourceFailure(planFiles({ path: 'nope', target: 'docs' }, dir));
    expect(err.message).toMatch(/nope: no such file or directory/);
  });
});
