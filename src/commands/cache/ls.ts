import { KubechatCommand } from '../../cli/command.js';
import { cacheDirFlag } from '../../cli/cache-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { BlobCache, defaultCacheDir } from '../../cache/blob-cache.js';

export interface CacheLsResult {
  cacheDir: string;
  blobs: Array<{ digest: string; size: number; lastUsed: string }>;
  totalBytes: number;
  /** Bytes of interrupted downloads waiting to be resumed. */
  partialBytes: number;
}

export default class CacheLs extends KubechatCommand {
  static override summary = 'List the blobs in the local content cache.';
  static override description = `The cache holds verified blobs (layers, configs, manifests, chart archives, model weights) by
digest, shared by every bundle create, most recently used first.

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> cache ls', '<%= config.bin %> cache ls --json'];

  static override flags = {
    ...cacheDirFlag,
  };

  async run(): Promise<CacheLsResult> {
    const { flags } = await this.parse(CacheLs);
    const cache = new BlobCache(flags['cache-dir'] ?? defaultCacheDir());
    const blobs = await cache.ls();
    const totalBytes = blobs.reduce((n, b) => n + b.size, 0);
    const partialBytes = await cache.partialBytes();
    for (const b of blobs) {
      this.say(`${b.digest}  ${formatBytes(b.size).padStart(10)}  ${b.lastUsed.toISOString()}`);
    }
    this.say(`${blobs.length} blobs, ${formatBytes(totalBytes)} in ${cache.dir}`);
    if (partialBytes > 0)
      this.say(`${formatBytes(partialBytes)} of interrupted downloads (resumed by the next create)`);
    return {
      cacheDir: cache.dir,
      blobs: blobs.map((b) => ({ digest: b.digest, size: b.size, lastUsed: b.lastUsed.toISOString() })),
      totalBytes,
      partialBytes,
    };
  }
}
