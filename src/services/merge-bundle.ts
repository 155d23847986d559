/**
 * `kubechat bundle merge`: a full bundle from a delta and its base. The delta is read once, front
 * to back; entries it leaves to the base are read from the base by random access. The manifest
 * (and signature) are copied byte for byte: they describe content, which is now all present.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { formatError, integrityError } from '../lib/errors.js';
import { readChunks } from '../lib/hash.js';
import { ByteProgress, silentReporter, type Reporter } from '../lib/progress.js';
import { ArchiveWriter, tarMtime, type HeaderEntry } from '../bundle/archive-writer.js';
import { bundleFileName, Entry } from '../bundle/layout.js';
import {
  EntryIndex,
  openBundle,
  streamEntries,
  type OpenedBundle,
  type StreamedEntry,
} from '../bundle/reader.js';
import { createSink } from '../bundle/sink.js';
import { defaultCompressOptions, type CompressOptions } from '../bundle/zstd.js';
import { modeOfEntry, type ContentEntry } from '../bundle/manifest.js';

export interface MergeOptions {
  deltaPath: string;
  basePath: string;
  outDir: string;
  splitSize?: number;
  compress?: CompressOptions;
  reporter?: Reporter;
}

export interface MergeResult {
  bundle: string;
  files: string[];
  name: string;
  version: string;
  manifestDigest: string;
  entries: { total: number; fromDelta: number; fromBase: number };
  bytes: number;
}

export async function mergeBundle(options: MergeOptions): Promise<MergeResult> {
  const reporter = options.reporter ?? silentReporter;
  const delta = await openBundle(options.deltaPath);
  const want = delta.manifest.delta?.base;
  if (!want) {
    throw formatError(
      `${options.deltaPath} is a full bundle, not a delta`,
      'merge needs a bundle made with --base',
    );
  }
  const base = await openBundle(options.basePath);
  if (base.manifestDigest !== want.manifestDigest) {
    throw integrityError(
      `${options.basePath} is ${base.manifest.name} ${base.manifest.version}, but the delta was made against ${want.name} ${want.version} (${want.manifestDigest})`,
      `pass the exact bundle ${want.name} ${want.version} the delta was made from with {flag:base}`,
    );
  }
  const baseBySha = new Map(base.manifest.contents.map((c) => [c.sha256, c.path]));
  const baseReader = await BaseReader.open(
    base,
    options.outDir,
    new Set(delta.manifest.contents.map((c) => c.sha256)),
  );
  const m = delta.manifest;
  const header: HeaderEntry[] = [{ path: Entry.manifest, data: delta.manifestBytes }];
  if (delta.signature) header.push({ path: Entry.signature, data: delta.signature });

  const finalPath = resolve(options.outDir, bundleFileName(m.name, m.version));
  const sink = await createSink(finalPath, options.splitSize);
  const writer = new ArchiveWriter(
    sink,
    options.compress ?? defaultCompressOptions(),
    tarMtime(m.created),
    header.map((h) => ({ path: h.path, size: h.data.length })),
  );
  const entries = streamEntries(delta)[Symbol.asyncIterator]();
  const next = async (): Promise<StreamedEntry | undefined> => {
    for (;;) {
      const r = await entries.next();
      if (r.done) return undefined;
      if (r.value.path !== Entry.manifest && r.value.path !== Entry.signature) return r.value;
    }
  };
  let fromDelta = 0;
  try {
    const progress = new ByteProgress(
      reporter,
      'merge',
      `Merging into ${finalPath}`,
      m.contents.reduce((n, c) => n + c.size, 0),
    );
    let current = await next();
    for (const c of m.contents) {
      let source: AsyncIterable<Buffer>;
      if (current?.path === c.path) {
        source = current.data;
        fromDelta++;
      } else {
        const basePath = baseBySha.get(c.sha256);
        if (basePath === undefined) {
          throw integrityError(
            `${c.path} is in neither the delta nor the base`,
            'the delta is incomplete: create it again',
          );
        }
        source = baseReader.read(basePath, c.sha256);
      }
      const hex = await writer.addEntry(c.path, c.size, source, {
        onBytes: (k) => progress.add(k),
        mode: modeOfEntry(c),
      });
      if (hex !== c.sha256) throw mismatch(c, hex);
      if (current?.path === c.path) current = await next();
    }
    if (current && current.path !== Entry.toc) {
      throw integrityError(
        `${options.deltaPath}: ${current.path} is not in the manifest or out of order`,
        'run kubechat bundle verify on the delta',
      );
    }
    progress.finish();
    const written = await writer.finish(header);
    const committed = await sink.commit();
    return {
      bundle: committed.parts ? committed.files[committed.files.length - 1]! : finalPath,
      files: committed.files,
      name: m.name,
      version: m.version,
      manifestDigest: delta.manifestDigest,
      entries: { total: m.contents.length, fromDelta, fromBase: m.contents.length - fromDelta },
      bytes: written.size,
    };
  } catch (err) {
    await writer.settle();
    await sink.abort();
    throw err;
  } finally {
    await entries.return?.(undefined);
    await baseReader.close();
  }
}

const mismatch = (c: ContentEntry, hex: string) =>
  integrityError(
    `${c.path}: sha256 ${hex} does not match the manifest (${c.sha256})`,
    'run kubechat bundle verify on the delta and the base',
  );

/**
 * Entries of the base by path. A seekable base is read in place; a base recompressed without a
 * seek table is read once and the entries the delta needs are kept in a temporary directory.
 */
class BaseReader {
  private constructor(
    private readonly index: EntryIndex | undefined,
    private readonly spool: string | undefined,
  ) {}

  static async open(base: OpenedBundle, outDir: string, wanted: Set<string>): Promise<BaseReader> {
    const index = await EntryIndex.open(base);
    if (index.seekable) return new BaseReader(index, undefined);
    await mkdir(outDir, { recursive: true });
    const spool = await mkdtemp(join(outDir, '.kubechat-merge-'));
    const shaOf = new Map(base.manifest.contents.map((c) => [c.path, c.sha256]));
    for await (const e of streamEntries(base)) {
      if (!wanted.has(shaOf.get(e.path) ?? '')) continue;
      const hash = createHash('sha256');
      const temp = join(spool, 'incoming');
      await pipeline(
        e.data,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      await rename(temp, join(spool, hash.digest('hex')));
    }
    return new BaseReader(undefined, spool);
  }

  read(path: string, sha256: string): AsyncIterable<Buffer> {
    return this.index ? this.index.read(path) : readChunks(join(this.spool!, sha256));
  }

  async close() {
    if (this.spool) await rm(this.spool, { recursive: true, force: true });
  }
}
