/** The counts an install reports: blobs and files written or found already there. */
export class Tally {
  #pushed = 0;
  #skipped = 0;
  #pushedBytes = 0;
  #skippedBytes = 0;
  #files = 0;
  #filesSkipped = 0;
  #fileBytes = 0;

  pushed(size: number): void {
    this.#pushed++;
    this.#pushedBytes += size;
  }

  skipped(size: number): void {
    this.#skipped++;
    this.#skippedBytes += size;
  }

  fileWritten(size: number): void {
    this.#files++;
    this.#fileBytes += size;
  }

  fileSkipped(): void {
    this.#filesSkipped++;
  }

  /** Every file of the bundle was already there (a finished install run again). */
  allFilesSkipped(count: number): void {
    this.#filesSkipped = count;
  }

  totals() {
    return {
      files: { written: this.#files, skipped: this.#filesSkipped, bytes: this.#fileBytes },
      blobs: { pushed: this.#pushed, skipped: this.#skipped },
      bytes: { pushed: this.#pushedBytes, skipped: this.#skippedBytes },
    };
  }
}
