/**
 * Bounded concurrency, the one implementation: `forEachLimit` drains a list of independent tasks
 * with a fixed number of workers (downloads, byte ranges, validation checks, load-test requests);
 * `Limiter` caps work that arrives over time (install's uploads and checks).
 */

/**
 * Runs `task(i)` for i = 0 … count-1, at most `limit` at once, starting them in order. After a task
 * fails, or once `stop()` says so, no new task starts; it settles when every started task has, then
 * rejects with the first failure.
 */
export async function forEachLimit(
  count: number,
  limit: number,
  task: (i: number) => Promise<void>,
  options: { stop?: () => boolean } = {},
): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async () => {
    while (!failed && !options.stop?.() && next < count) {
      const i = next++;
      try {
        await task(i);
      } catch (err) {
        if (!failed) [failed, failure] = [true, err];
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, worker));
  if (failed) throw failure;
}

/** `fn` over `items`, at most `limit` at a time; results in input order; the first failure wins. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  await forEachLimit(items.length, limit, async (i) => {
    out[i] = await fn(items[i]!);
  });
  return out;
}

/** At most `limit` tasks at once, for tasks that arrive one by one. */
export class Limiter {
  #active = 0;
  #waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async acquire(): Promise<() => void> {
    while (this.#active >= this.limit) await new Promise<void>((r) => this.#waiting.push(r));
    this.#active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active--;
      this.#waiting.shift()?.();
    };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }
}
