import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { cacheDirFlag } from '../../cli/cache-flags.js';
import { cacheError, EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { BlobCache, defaultCacheDir, parseAge } from '../../cache/blob-cache.js';
import { parseSize } from '../../lib/sizes.js';

export interface CachePruneResult {
  cacheDir: string;
  dryRun: boolean;
  removed: Array<{ digest: string; size: number; lastUsed: string }>;
  removedBytes: number;
  kept: number;
  keptBytes: number;
  staleFiles: number;
}

export default class CachePrune extends KubechatCommand {
  static override summary =
    'Remove cached blobs: the least recently used beyond --max-size, or unused for --older-than.';
  static override description = `With neither flag, empties the cache. A blob's last use is the last bundle create that needed it.
--older-than also removes interrupted downloads and temporary files of that age. Do not prune while a
bundle create runs against the same cache.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> cache prune --max-size 50G',
    '<%= config.bin %> cache prune --older-than 30d',
    '<%= config.bin %> cache prune --max-size 100G --older-than 90d --dry-run --json',
  ];

  static override flags = {
    ...cacheDirFlag,
    'max-size': Flags.string({
      summary: 'Keep at most this much (e.g. 50G, 512M: K/M/G binary, KB/MB/GB decimal).',
    }),
    'older-than': Flags.string({ summary: 'Remove blobs unused for this long (e.g. 30d, 12h, 2w).' }),
    'dry-run': Flags.boolean({ summary: 'Show what would be removed.' }),
  };

  async run(): Promise<CachePruneResult> {
    const { flags } = await this.parse(CachePrune);
    const maxSize = flags['max-size'] === undefined ? undefined : parseSize(flags['max-size']);
    if (flags['max-size'] !== undefined && maxSize === undefined) {
      throw cacheError(`--max-size ${flags['max-size']}: not a size`, 'write it like 50G, 512M or 1T');
    }
    const olderThanMs = flags['older-than'] === undefined ? undefined : parseAge(flags['older-than']);
    if (flags['older-than'] !== undefined && olderThanMs === undefined) {
      throw cacheError(`--older-than ${flags['older-than']}: not a duration`, 'write it like 30d, 12h or 2w');
    }
    const cache = new BlobCache(flags['cache-dir'] ?? defaultCacheDir());
    const all = maxSize === undefined && olderThanMs === undefined;
    const r = await cache.prune({ maxSize: all ? 0 : maxSize, olderThanMs, dryRun: flags['dry-run'] });
    const verb = flags['dry-run'] ? 'would remove' : 'removed';
    this.say(
      `${verb} ${r.removed.length} blobs (${formatBytes(r.removedBytes)}); kept ${r.kept} (${formatBytes(r.keptBytes)})`,
    );
    if (r.staleFiles > 0) this.say(`removed ${r.staleFiles} stale partial or temporary files`);
    return {
      cacheDir: cache.dir,
      dryRun: flags['dry-run'],
      removed: r.removed.map((b) => ({ digest: b.digest, size: b.size, lastUsed: b.lastUsed.toISOString() })),
      removedBytes: r.removedBytes,
      kept: r.kept,
      keptBytes: r.keptBytes,
      staleFiles: r.staleFiles,
    };
  }
}
