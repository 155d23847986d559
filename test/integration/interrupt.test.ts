/**
 * Ctrl-C while a command writes: the interrupt's cleanup removes the partial output under work that
 * is still running, which then fails (a directory vanished under it). The command must still end
 * with the signal's exit code once the cleanup is done, not with the failure's code and an
 * "unexpected error" from its error handler, which would end the process first.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const dist = (p: string) => pathToFileURL(join(ROOT, 'dist', p)).href;

describe('interrupt', () => {
  it('Given Ctrl-C whose cleanup removes the directory the work writes in, When the work then fails, Then the process exits 130 after the cleanup, with no error report', async () => {
    const work = await mkdtemp(join(tmpdir(), 'kubechat-interrupt-'));
    const script = join(work, 'command.mjs');
    await writeFile(
      script,
      `import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { KubechatCommand } from ${JSON.stringify(dist('cli/command.js'))};
import { onInterrupt } from ${JSON.stringify(dist('lib/interrupt.js'))};
const dir = ${JSON.stringify(join(work, 'out.partial'))};
let failed;
const workFailed = new Promise((r) => (failed = r));
class Writes extends KubechatCommand {
  async run() {
    setInterval(() => undefined, 1000); // a command's pending I/O: keeps the loop up for the signal
    await mkdir(dir);
    let removed;
    const gone = new Promise((r) => (removed = r));
    onInterrupt(async () => {
      await rm(dir, { recursive: true, force: true });
      removed();
      // Still cleaning up (a large partial output) when the work fails and its error is handled.
      await workFailed;
      await new Promise((r) => setTimeout(r, 300));
      process.stderr.write('cleanup done\\n');
    });
    process.kill(process.pid, 'SIGINT');
    await gone;
    try {
      await mkdir(join(dir, 'certs'));
    } catch (err) {
      failed();
      throw err;
    }
  }
}
await Writes.run([], ${JSON.stringify(ROOT)});
`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toContain('interrupted (SIGINT): removing partial output');
    expect(stderr).toContain('cleanup done');
    expect(stderr).not.toContain('unexpected error');
    expect(code, stderr).toBe(130);
    expect(await readdir(work)).toEqual(['command.mjs']);
    await rm(work, { recursive: true, force: true });
  });
});
