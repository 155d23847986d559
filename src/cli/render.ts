/**
 * Renders service progress: listr2 on an interactive terminal, plain timestamp-free lines on
 * stderr otherwise (CI logs, pipes, --json). Nothing is ever written to stdout here: stdout is for
 * results only.
 */
import { formatBytes, type ProgressEvent, type Reporter } from '../lib/progress.js';

/** When each task's byte count started, for rate and ETA. */
const startedAt = new Map<string, { at: number; bytes: number }>();

function describe(e: ProgressEvent, now = Date.now()): string {
  if (e.bytesTotal === undefined || e.bytesTotal === 0) return e.title;
  const done = e.bytesDone ?? 0;
  const pct = Math.floor((done / e.bytesTotal) * 100);
  const start = startedAt.get(e.task);
  if (!start || done < start.bytes) startedAt.set(e.task, { at: now, bytes: done });
  if (e.done) startedAt.delete(e.task);
  // The service's own rate when it sends one, else the average since this task's first event.
  let rate = e.bytesPerSecond ?? 0;
  if (rate <= 0 && start && now - start.at >= 500 && done > start.bytes) {
    rate = ((done - start.bytes) * 1000) / (now - start.at);
  }
  let speed = '';
  if (rate > 0) {
    const eta = Math.ceil((e.bytesTotal - done) / rate);
    speed = `, ${formatBytes(rate)}/s${e.done || eta <= 0 ? '' : `, ETA ${formatDuration(eta)}`}`;
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
  // listr2 loads only for a terminal: piped, --json and CI runs start without it (~50 ms).
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
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
