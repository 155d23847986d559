/**
 * Progress events from services. Services never print: they emit events to an injected reporter
 * and the command decides how to render them (listr2 on a terminal, plain lines otherwise).
 */
export interface ProgressEvent {
  /** Short name of the step, e.g. "hash", "write", "verify". */
  task: string;
  /** Human description of what is happening now. */
  title: string;
  bytesDone?: number;
  bytesTotal?: number;
  /** True on the last event of a task. */
  done?: boolean;
  /** Throughput so far, when the task tracks bytes over time. */
  bytesPerSecond?: number;
}

export interface Reporter {
  emit(event: ProgressEvent): void;
}

export const silentReporter: Reporter = { emit: () => undefined };

/** Tracks bytes for one task and emits at most every `intervalMs` (plus a final event). */
export class ByteProgress {
  #done = 0;
  #last = 0;
  readonly #started = Date.now();

  constructor(
    private readonly reporter: Reporter,
    private readonly task: string,
    private readonly title: string,
    private readonly total: number,
    private readonly intervalMs = 200,
  ) {
    reporter.emit({ task, title, bytesDone: 0, bytesTotal: total });
  }

  add(n: number): void {
    this.#done += n;
    const now = Date.now();
    if (now - this.#last >= this.intervalMs) {
      this.#last = now;
      this.reporter.emit({
        task: this.task,
        title: this.title,
        bytesDone: this.#done,
        bytesTotal: this.total,
        bytesPerSecond: this.#rate(now),
      });
    }
  }

  #rate(now: number): number | undefined {
    const seconds = (now - this.#started) / 1000;
    return seconds >= 1 ? this.#done / seconds : undefined;
  }

  finish(): void {
    this.reporter.emit({
      task: this.task,
      title: this.title,
      bytesDone: this.#done,
      bytesTotal: this.total,
      bytesPerSecond: this.#rate(Date.now()),
      done: true,
    });
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}
