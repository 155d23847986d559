/**
 * Renders service progress: listr2 on an interactive terminal, plain timestamp-free lines on
 * stderr otherwise (CI logs, pipes, --json). Nothing is ever written to stdout here: stdout is for
 * results only.
 */
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { formatBytes, type ProgressEvent, type Reporter } from './progress.js';

function describe(e: ProgressEvent): string {
  if (e.bytesTotal === undefined || e.bytesTotal === 0) return e.title;
  const done = e.bytesDone ?? 0;
  const pct = Math.floor((done / e.bytesTotal) * 100);
  let speed = '';
  if (e.bytesPerSecond && e.bytesPerSecond > 0) {
    const eta = Math.ceil((e.bytesTotal - done) / e.bytesPerSecond);
    speed = `, ${formatBytes(e.bytesPerSecond)}/s${e.done || eta <= 0 ? '' : `, ETA ${formatDuration(eta)}`}`;
  }
  return `${e.title}: ${pct}% (${formatBytes(done)} of ${formatBytes(e.bytesTotal)}${speed})`;
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const m = Math.floor(seconds / 60);
  return m < 60 ? `${m} min ${seconds % 60} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Plain lines: every new step, its end, and at most one progress line per `intervalMs` per step. */
export function lineReporter(write: (line: string) => void, intervalMs = 2000): Reporter {
  let lastTitle = '';
  let lastAt = 0;
  return {
    emit(e) {
      const now = Date.now();
      const fresh = e.title !== lastTitle;
      if (!fresh && !e.done && now - lastAt < intervalMs) return;
      lastTitle = e.title;
      lastAt = now;
      write(describe(e));
    },
  };
}

export interface RenderOptions {
  json: boolean;
  /** Overrides terminal detection (tests). */
  interactive?: boolean;
}

/** Runs `work` with a reporter appropriate for where output goes. */
export async function withProgress<T>(
  title: string,
  options: RenderOptions,
  work: (r: Reporter) => Promise<T>,
): Promise<T> {
  const interactive =
    options.interactive ??
    (!options.json && process.stderr.isTTY === true && !process.env.CI && process.env.TERM !== 'dumb');
  if (!interactive) return work(lineReporter((line) => process.stderr.write(line + '\n')));
  let result: T | undefined;
  const list = new Listr(
    [
      {
        title,
        task: async (_ctx, task) => {
          result = await work({
            emit: (e) => {
              task.output = describe(e);
            },
          });
        },
        rendererOptions: { outputBar: 1, persistentOutput: false },
      },
    ],
    {
      exitOnError: true,
      registerSignalListeners: false, // lib/interrupt.ts removes partial output, then exits
      rendererOptions: {
        logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }),
      },
    },
  );
  await list.run();
  return result as T;
}
