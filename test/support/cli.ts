/** Runs the built CLI (bin/run.js → dist/) as a user would, on the Node running the tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, whether this runs from test/support or compiled under dist-scripts/. */
export const ROOT = ((dir: string) => (existsSync(join(dir, 'package.json')) ? dir : dirname(dir)))(
  fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, ''),
);
const BIN = join(ROOT, 'bin', 'run.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  /** Runs the command under another program, e.g. ['unshare', '-n'] for no network at all. */
  wrap?: string[];
  env?: NodeJS.ProcessEnv;
  /** Written to the command's standard input, which is then closed (default: no input at all). */
  stdin?: string;
  /** Called with stderr so far whenever it grows; may signal the child. */
  onStderr?: (text: string, child: ChildProcess) => void;
}

export function kubechat(args: string[], options: RunOptions = {}) {
  const argv = [...(options.wrap ?? []), process.execPath, BIN, ...args];
  return new Promise<CliResult>((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, CI: '1', NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.on('error', () => undefined); // a command that exits without reading it
    child.stdin.end(options.stdin);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function sh(cmd: string, cwd?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', cmd], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
