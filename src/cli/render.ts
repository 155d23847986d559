/**
 * Renders service progress: listr2 on an interactive terminal, plain timestamp-free lines on
 * stderr otherwise (CI logs, pipes, --json). Nothing is ever written to stdout here: stdout is for
 * results only.
 */
import type { ListrTask } from 'listr2';
import { onInterruptStopScreen } from '../lib/interrupt.js';
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
  return withListr(title, work);
}

/** What withListr needs of a listr2 task list: `runTask` starts a task added after `run` began. */
interface Runnable {
  tasks: unknown[];
  add(task: ListrTask): void;
  runTask(task: unknown): Promise<void>;
}

interface Line {
  /** The listr2 task, once it started (runTask starts it a few microtasks after it is added). */
  wrapper?: { title: string };
  last: string;
  end: (err?: Error) => void;
}

/**
 * One listr2 subtask per progress task: created on the task's first event, its title redrawn in place
 * with each update, completed on its `done` event (or when the work ends). The terminal shows one
 * line per task, not a growing log.
 */
async function withListr<T>(title: string, work: (r: Reporter) => Promise<T>): Promise<T> {
  // listr2 loads only for a terminal: piped, --json and CI runs start without it (~50 ms).
  const { Listr, ListrLogger, ProcessOutput } = await import('listr2');
  const open = new Map<string, Line>();
  let result: T | undefined;
  let sub: Runnable | undefined;
  const started: Array<Promise<void>> = [];

  const line = (e: ProgressEvent): Line | undefined => {
    const found = open.get(e.task);
    if (found || !sub) return found;
    let end!: (err?: Error) => void;
    const finished = new Promise<void>((resolve, reject) => {
      end = (err) => (err ? reject(err) : resolve());
    });
    const created: Line = { last: e.title, end };
    sub.add({
      title: e.title,
      task: (_ctx, task) => {
        created.wrapper = task;
        task.title = created.last;
        return finished;
      },
    });
    const running = sub.runTask(sub.tasks[sub.tasks.length - 1]);
    started.push(running.catch(() => undefined));
    open.set(e.task, created);
    return created;
  };

  let stopped = false;
  let latest: string | undefined;
  const reporter: Reporter = {
    emit(e) {
      if (stopped) return; // interrupted: the work may still report before the process exits
      const l = line(e);
      if (!l) return;
      latest = e.task;
      const text = describe(e);
      // The same line again (a step re-announced, no byte moved) is not redrawn.
      if (text !== l.last) {
        l.last = text;
        if (l.wrapper) l.wrapper.title = text;
      }
      if (e.done) {
        open.delete(e.task);
        l.end();
      }
    },
  };

  const list = new Listr(
    [
      {
        title,
        task: (_ctx, parent) => {
          const tasks = parent.newListr(
            [
              {
                // Untitled, so not drawn: the work itself, beside the lines it reports.
                task: async () => {
                  const working = work(reporter).then((r) => (result = r));
                  let failed = false;
                  try {
                    await Promise.race([working, interrupted]);
                  } catch (err) {
                    failed = true;
                    throw err;
                  } finally {
                    // Lines still open end with the work: the one it last reported on failed with
                    // it; earlier steps that never said done were finished (later ones started).
                    for (const [task, l] of open)
                      l.end(failed && task === latest ? new Error(l.last) : undefined);
                    open.clear();
                  }
                  await Promise.all(started);
                },
              },
            ],
            { concurrent: true, exitOnError: true },
          );
          // listr2 has no public way to add a task to a list that runs: its private runTask does it.
          sub = tasks as unknown as Runnable;
          return tasks;
        },
      },
    ],
    {
      exitOnError: true,
      registerSignalListeners: false, // lib/interrupt.ts removes partial output, then exits
      rendererOptions: {
        collapseSubtasks: false, // the final screen keeps one finished line per task
        logger: new ListrLogger({ processOutput: new ProcessOutput(process.stderr, process.stderr) }),
      },
    },
  );
  // Rejected on Ctrl-C: the list fails, so listr2 draws its last frame and lets go of stderr.
  let interrupt!: (err: Error) => void;
  const interrupted = new Promise<never>((_resolve, reject) => (interrupt = reject));
  interrupted.catch(() => undefined); // raced by the work task; unobserved if Ctrl-C comes before it runs
  const running = list.run();
  // Ctrl-C: every open line ends as interrupted and the renderer draws its last frame and lets go
  // of stderr, so the interrupted lines that follow are seen and no spinner is left frozen.
  const stopScreen = onInterruptStopScreen(async () => {
    stopped = true;
    for (const l of open.values()) {
      l.last = `${l.last}: interrupted`;
      if (l.wrapper) l.wrapper.title = l.last;
      l.end(new Error(l.last)); // a failed task shows its error in place of its title
    }
    open.clear();
    interrupt(new Error('interrupted'));
    await running.catch(() => undefined);
  });
  try {
    await running;
  } finally {
    stopScreen();
  }
  return result as T;
}
