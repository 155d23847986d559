/**
 * Renders service progress: listr2 on an interactive terminal, plain timestamp-free lines on
 * stderr otherwise (CI logs, pipes, --json). Nothing is ever written to stdout here: stdout is for
 * results only.
 */
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { formatBytes, type ProgressEvent, type Reporter } from './progress.js';

function describe(e: ProgressEvent): string {
  if (e.bytesTotal === undefined || e.bytesTotal === 0) return e.title;
  const pct = Math.floor(((e.bytesDone ?? 0) / e.bytesTotal) * 100);
  return `${e.title}: ${pct}% (${formatBytes(e.bytesDone ?? 0)} of ${formatBytes(e.bytesTotal)})`;
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
