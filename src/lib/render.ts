/**
 * Renders service progress: listr2 on an interactive terminal, plain timestamp-free lines on
 * stderr otherwise (CI logs, pipes, --json). Nothing is ever written to stdout here: stdout is for
 * results only.
 */
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { formatBytes, type ProgressEvent, type Reporter } from './progress.js';

/** When each task's byte count started, for rate and ETA. */
const startedAt = new Map<string, { at: number; bytes: number }>();

function describe(e: ProgressEvent, now = Date.now()): string {
  if (e.bytesTotal === undefined || e.bytesTotal === 0) return e.title;
  const done = e.bytesDone ?? 0;
  const pct = Math.floor((done / e.bytesTotal) * 100);
  let line = `${e.title}: ${pct}% (${formatBytes(done)} of ${formatBytes(e.bytesTotal)})`;
  const start = startedAt.get(e.task);
  if (!start || done < start.bytes) startedAt.set(e.task, { at: now, bytes: done });
  else if (now - start.at >= 500 && done > start.bytes) {
    const rate = ((done - start.bytes) * 1000) / (now - start.at);
    line += `, ${formatBytes(rate)}/s`;
    if (!e.done && done < e.bytesTotal) line += `, ${formatDuration((e.bytesTotal - done) / rate)} left`;
  }
  if (e.done) startedAt.delete(e.task);
  return line;
}

function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Plain lines: every new step, its end, and at most one progress line per `intervalMs` per step. */
export function lineReporter(write: (line: string) => void, intervalMs = 2000): Reporter {
  const lastAt = new Map<string, number>();
  let lastTitle = '';
  return {
    emit(e) {
      const now = Date.now();
      const key = `${e.task}\0${e.title}`;
      const fresh = !lastAt.has(key) || (e.title !== lastTitle && !e.task.startsWith('pull '));
      if (!fresh && !e.done && now - (lastAt.get(key) ?? 0) < intervalMs) return;
      lastAt.set(key, now);
      lastTitle = e.title;
      write(describe(e, now));
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
          // One line per task in flight (parallel pulls show one line per artifact), latest step last.
          const active = new Map<string, string>();
          result = await work({
            emit: (e) => {
              active.delete(e.task);
              const line = describe(e);
              if (!e.done) active.set(e.task, line);
              const lines = active.size > 0 ? [...active.values()] : [line];
              task.output = lines.slice(-12).join('\n');
            },
          });
        },
        rendererOptions: { outputBar: Infinity, persistentOutput: false },
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
