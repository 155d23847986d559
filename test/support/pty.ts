/**
 * Runs kubechat under a pseudo-terminal (util-linux `script`), as a user at a terminal would, and
 * reads back its screen: for tests and benchmarks of what the terminal shows.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g; // eslint-disable-line no-control-regex
export const plain = (s: string) => s.replace(ANSI, '').replace(/\r/g, '');

/**
 * What the user is left with: the last frame each live list drew (a list ends by showing the cursor
 * again, ESC [ ? 25 h; every redraw starts by erasing the previous frame and moving to column 1,
 * ESC [ G), and what was printed after it.
 */
export function finalScreen(raw: string): string[] {
  return raw
    .split('\x1b[?25h')
    .map((part) => (part.includes('\x1b[G') ? part.slice(part.lastIndexOf('\x1b[G') + 3) : part))
    .flatMap((part) => plain(part).split('\n'))
    .filter((l) => l.trim() !== '');
}

export interface PtyResult {
  code: number | null;
  /** Everything written to the terminal, escape codes included. */
  raw: string;
  /** When ^C was typed (Date.now()), if it was. */
  typedAt?: number;
  endedAt: number;
}

/**
 * Runs kubechat under a pseudo-terminal (120 columns: `script` gives one with no size). `ctrlC` is
 * typed (a ^C byte through the terminal, as a user would) once the screen matches it.
 */
export function onTerminal(
  args: string[],
  options: {
    env?: NodeJS.ProcessEnv;
    ctrlC?: RegExp;
    /** How long after the match ^C is typed. */
    ctrlCAfterMs?: number;
    onScreen?: (raw: string) => void;
  } = {},
) {
  const quoted = [process.execPath, join(ROOT, 'bin', 'run.js'), ...args].map((a) => `'${a}'`).join(' ');
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm', ...options.env };
  delete env.CI;
  delete env.NO_COLOR;
  const child = spawn('script', ['-eqfc', `stty cols 120 rows 40; exec ${quoted}`, '/dev/null'], {
    cwd: ROOT,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let raw = '';
  let typed = false;
  let typedAt: number | undefined;
  child.stdout.on('data', (d: Buffer) => {
    raw += d.toString();
    options.onScreen?.(raw);
    if (options.ctrlC && !typed && options.ctrlC.test(plain(raw))) {
      typed = true;
      setTimeout(() => {
        typedAt = Date.now();
        child.stdin.write('\x03');
      }, options.ctrlCAfterMs ?? 0);
    }
  });
  return new Promise<PtyResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, raw, typedAt, endedAt: Date.now() }));
  });
}

/**
 * Text that compresses like docs and manifests do (about 3:1), the same on every run: words picked
 * by a seeded generator (mulberry32), so zstd has real work to do at every level.
 */
export function text(bytes: number, seed = 1): string {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const words = Array.from({ length: 5000 }, () => Math.floor(random() * 36 ** 6).toString(36));
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = Array.from({ length: 10 }, () => words[Math.floor(random() * words.length)]).join(' ');
    lines.push(line);
    n += line.length + 1;
  }
  return lines.join('\n');
}
