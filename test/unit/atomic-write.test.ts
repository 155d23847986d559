import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removePartials, stageAtomic, writeAtomic, writeOutputFile } from '../../src/lib/fs.js';
import { KubechatError } from '../../src/lib/errors.js';

describe('lib/fs atomic writes', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubechat-fs-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('Given text, bytes or a stream, When written, Then the file holds it with exactly the mode asked for and no temp file is left', async () => {
    const old = process.umask(0o077);
    try {
      await writeAtomic(join(dir, 'a'), 'text', { mode: 0o644 });
      await writeAtomic(join(dir, 'b'), Buffer.from('bytes'), { mode: 0o600 });
      await writeAtomic(
        join(dir, 'sub', 'c'),
        (async function* () {
          yield Buffer.from('str');
          yield Buffer.from('eam');
        })(),
        { mkdir: true },
      );
    } finally {
      process.umask(old);
    }
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('text');
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o644);
    expect((await stat(join(dir, 'b'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'sub', 'c'), 'utf8')).toBe('stream');
    expect((await readdir(dir)).sort()).toEqual(['a', 'b', 'sub']);
  });

  it('Given an existing file, When written with overwrite false, Then EEXIST and the file is unchanged', async () => {
    await writeFile(join(dir, 'a'), 'old');
    await expect(writeAtomic(join(dir, 'a'), 'new', { overwrite: false })).rejects.toMatchObject({
      code: 'EEXIST',
    });
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('old');
    await writeAtomic(join(dir, 'a'), 'new');
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['a']);
  });

  it('Given a file that appears after staging, When committed with overwrite false, Then EEXIST and the other file stays', async () => {
    const staged = await stageAtomic(join(dir, 'a'), 'mine', { overwrite: false });
    await writeFile(join(dir, 'a'), 'theirs');
    await expect(staged.commit()).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readFile(join(dir, 'a'), 'utf8')).toBe('theirs');
    expect(await readdir(dir)).toEqual(['a']);
  });

  it('Given a stream that throws, When written, Then nothing is left under any name', async () => {
    const failing = (async function* () {
      yield Buffer.from('half');
      throw new Error('digest mismatch');
    })();
    await expect(writeAtomic(join(dir, 'a'), failing)).rejects.toThrow('digest mismatch');
    expect(await readdir(dir)).toEqual([]);
  });

  it('Given a staged file, When aborted, Then neither it nor the final name exists', async () => {
    const staged = await stageAtomic(join(dir, 'a'), 'x');
    expect(await readdir(dir)).toEqual([staged.temp.slice(dir.length + 1)]);
    await staged.abort();
    expect(await readdir(dir)).toEqual([]);
  });

  it('Given temp files a killed run left, When removePartials runs, Then only they are removed', async () => {
    await writeFile(join(dir, '.a.partial-123-0'), '');
    await writeFile(join(dir, 'a'), '');
    await removePartials(join(dir));
    expect(await readdir(dir)).toEqual(['a']);
  });

  it('Given an existing output without --force, When writeOutputFile runs, Then an output error says to pass --force', async () => {
    await writeFile(join(dir, 'key'), 'old');
    const err = await writeOutputFile(join(dir, 'key'), 'new', 0o600, false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).message).toContain('already exists');
    expect((err as KubechatError).fix).toContain('--force');
    const missing = await writeOutputFile(join(dir, 'nope', 'key'), 'x', 0o600, true).catch(
      (e: unknown) => e,
    );
    expect((missing as KubechatError).message).toContain('no such directory');
  });
});
