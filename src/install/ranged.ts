/**
 * Ranged reads: once the graph is complete (seek table, readStreams > 1), the large blobs the
 * targets need are streamed by ranged readers of their own, readStreams at once, largest first, each
 * a front-to-back read of that blob's frames with its sha256 checked on the way (dispatch) before
 * anything references it; the main pass jumps past them and reads the small entries. Every upload is
 * under way within a round trip of the manifests being read, instead of each waiting for the pass to
 * reach it (one upload at a time leaves a registry waiting on its own hashing and disk writes); the
 * existence checks (HEAD) of all of them go out at once first. Memory stays bounded by the channels.
 * On media where seeking is slow (a spinning USB disk), --read-streams 1 keeps reading strictly
 * front to back; flash media and files in the page cache serve a few sequential streams at full speed.
 */
import type { EntryIndex } from '../bundle/reader.js';
import type { Descriptor } from '../oci/types.js';
import type { ArtifactGraph } from './graph.js';
import type { InstallArtifact } from './types.js';
import type { Work } from './work.js';
import { blobPath } from '../bundle/layout.js';

/**
 * Blobs at least this large are read by ranged readers of their own (when the bundle has a seek table
 * and readStreams > 1), largest first, so their uploads overlap instead of following one another;
 * smaller ones are read by the main pass.
 */
export const RANGED_READ_FROM = 16 * 1024 * 1024;
export const DEFAULT_READ_STREAMS = 2;

/** The large blobs some target takes, largest first (pure: what the ranged readers will read). */
export function largeBlobsFirst(
  graph: ArtifactGraph,
  index: EntryIndex,
  taken: (artifact: InstallArtifact) => boolean,
  held: (digest: string) => boolean,
): Descriptor[] {
  const large = new Map<string, Descriptor>();
  for (const a of graph.artifacts) {
    if (!taken(a)) continue;
    for (const b of a.blobs) {
      const size = index.size(blobPath(b.digest));
      if (size !== undefined && size >= RANGED_READ_FROM && !held(b.digest))
        large.set(b.digest, { mediaType: b.mediaType, digest: b.digest, size }); // targets decide by media type
    }
  }
  return [...large.values()].sort((x, y) => y.size - x.size);
}

export class RangedReaders {
  readonly #running = new Set<Promise<void>>();

  constructor(private readonly work: Work) {}

  /** Starts `streams` readers that take blobs off `queue` until it is empty or the pass failed. */
  start(queue: Descriptor[], streams: number, read: (blob: Descriptor) => Promise<void>): void {
    const reader = async () => {
      for (let blob = queue.shift(); blob && !this.work.failure; blob = queue.shift()) await read(blob);
    };
    const readers = Math.min(streams, queue.length); // before the first reader takes one
    for (let i = 0; i < readers; i++) {
      const running = reader().catch((err: unknown) => this.work.fail(err as Error));
      this.#running.add(running);
      void running.then(() => this.#running.delete(running));
    }
  }

  /** Waits for the ranged readers (and so for every write they started to be under way). */
  async settle(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }
}
