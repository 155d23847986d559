/**
 * Progress on a terminal: real commands under a pseudo-terminal (util-linux `script`), their screen
 * output read back. One line per progress task, redrawn in place (cursor-up and erase-line codes, and
 * the last frame holds each task once); a no-op re-run draws no 0%; Ctrl-C ends the live lines,
 * then prints the interrupted lines and exits 130 with the partial bundle removed.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finalScreen, onTerminal, plain, text } from '../support/pty.js';

async function filesSpec(dir: string, name: string, bytes: number): Promise<string> {
  await mkdir(join(dir, 'data'), { recursive: true });
  await writeFile(join(dir, 'data', 'a.txt'), text(bytes));
  const spec = join(dir, `${name}.yaml`);
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: { name: ${name}, version: 1.0.0 }
spec:
  platforms: [linux/amd64]
  files:
    - { path: ./data, target: data }
`,
  );
  return spec;
}

describe('progress on a terminal', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'kubechat-tty-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('Given bundle create then install twice on a terminal, Then each task is one redrawn line that ends done, and the no-op re-run draws no 0%', async () => {
    const spec = await filesSpec(join(work, 'small'), 'small', 2 * 1024 * 1024);
    const out = join(work, 'small-out');

    const created = await onTerminal(['bundle', 'create', '-f', spec, '-o', out]);
    expect(created.code, plain(created.raw)).toBe(0);
    // Redrawn in place: the renderer moves the cursor up and erases lines, not appending a log.
    expect(created.raw).toContain('\x1b[1A');
    expect(created.raw).toContain('\x1b[2K');
    const screen = finalScreen(created.raw);
    const planned = screen.findIndex((l) => /✔ Planned 0 artifacts$/.test(l));
    const writing = screen.findIndex((l) => /✔ Writing small-1\.0\.0\.kcb\.tar\.zst: 100% /.test(l));
    const written = screen.findIndex((l) => /✔ Bundle written$/.test(l));
    expect(
      [planned, writing, written].every((i) => i >= 0),
      screen.join('\n'),
    ).toBe(true);
    expect(planned < writing && writing < written, screen.join('\n')).toBe(true);
    expect(screen.filter((l) => l.includes('Writing small-1.0.0')).length, screen.join('\n')).toBe(1);
    expect(screen.some((l) => l.startsWith('Bundle small 1.0.0'))).toBe(true);

    const bundle = join(out, 'small-1.0.0.kcb.tar.zst');
    const install = ['install', bundle, '--files-dir', join(work, 'files'), '--allow-unsigned'];
    const env = { KUBECHAT_STATE_DIR: join(work, 'state') };
    const first = await onTerminal(install, { env });
    expect(first.code, plain(first.raw)).toBe(0);
    const installed = finalScreen(first.raw);
    // Files are what this bundle writes: their bytes are the progress (was 0 B of 0 B).
    expect(installed.some((l) => /✔ Installing small 1\.0\.0: 100% \(2\.0 MiB of 2\.0 MiB/.test(l))).toBe(
      true,
    );
    expect(installed.some((l) => l.startsWith('small 1.0.0: installed'))).toBe(true);
    // The same preflight line is drawn once, not once per check reported.
    const lines = installed.filter((l) => /preflight/.test(l));
    expect(new Set(lines).size, installed.join('\n')).toBe(lines.length);

    const again = await onTerminal(install, { env });
    expect(again.code, plain(again.raw)).toBe(0);
    expect(plain(again.raw)).not.toMatch(/Installing small 1\.0\.0: \d+%/);
    const noop = finalScreen(again.raw);
    expect(noop.some((l) => /✔ small 1\.0\.0 is already installed: nothing to write$/.test(l))).toBe(true);
    expect(noop.some((l) => l.startsWith('small 1.0.0: already installed'))).toBe(true);
  });

  it('Given bundle create at --level 19 on a terminal, When Ctrl-C is typed after the first progress, Then the line ends interrupted, the interrupted lines follow, it exits 130 and no partial bundle is left', async () => {
    const spec = await filesSpec(join(work, 'slow'), 'slow', 24 * 1024 * 1024);
    const out = join(work, 'slow-out');
    const r = await onTerminal(['bundle', 'create', '-f', spec, '-o', out, '--level', '19'], {
      ctrlC: /Writing slow-1\.0\.0\.kcb\.tar\.zst: \d+%/,
    });
    const all = plain(r.raw);
    expect(r.code, all).toBe(130);
    const screen = finalScreen(r.raw);
    const line = screen.findIndex((l) =>
      /✖ Writing slow-1\.0\.0\.kcb\.tar\.zst: \d+% .*: interrupted$/.test(l),
    );
    const removing = screen.indexOf('interrupted (SIGINT): removing partial output');
    const exited = screen.indexOf('interrupted (exit 130)');
    expect(line >= 0 && removing > line && exited > removing, screen.join('\n')).toBe(true);
    // Nothing drawn after the interrupted lines: the spinner was stopped, not left to run.
    expect(all.slice(all.lastIndexOf('interrupted (exit 130)'))).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(all).not.toContain('unexpected error');
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
