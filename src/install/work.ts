/**
 * The background work of an install pass (blob writes, early commits, ranged readers) and its first
 * failure: the pass reads on while writes finish, and stops at the first one that fails.
 */
export class Work {
  #failure: Error | undefined;
  readonly #inFlight = new Set<Promise<void>>();

  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Keeps the first failure: later ones are consequences of it. */
  fail(err: Error): void {
    this.#failure ??= err;
  }

  /** Tracks work that never rejects (its failure went through `fail`) until it settles. */
  track(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.then(() => this.#inFlight.delete(work));
  }

  /** Waits for the work in flight now. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }
}
