/** Reading packaged charts (`helm package` .tgz) in memory: files by path relative to the chart root. */
import { gunzipSync } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { chartRepoError } from '../lib/errors.js';

/** Helm's own limit on a chart's decompressed size. */
const MAX_CHART_BYTES = 100 * 1024 * 1024;

/**
 * Unpacks a chart archive: every regular file under its top directory `<name>/`, keyed without it.
 * Subcharts vendored as `charts/<sub>.tgz` are also unpacked as `charts/<sub>/…` (for image discovery).
 */
export function readChartArchive(tgz: Buffer, what: string): Map<string, Buffer> {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: MAX_CHART_BYTES });
  } catch (err) {
    throw chartRepoError(
      `${what}: not a gzip chart archive (${(err as Error).message})`,
      'check the chart source',
      err,
    );
  }
  const entries: Array<{ path: string; data: Buffer[] }> = [];
  const parser = new Parser({
    strict: true,
    onReadEntry: (entry: ReadEntry) => {
      if (entry.type !== 'File' && entry.type !== 'OldFile') {
        entry.resume();
        return;
      }
      const item = { path: entry.path, data: [] as Buffer[] };
      entries.push(item);
      entry.on('data', (c: Buffer) => item.data.push(c));
    },
  });
  let failed: unknown;
  parser.on('error', (err: unknown) => (failed = err));
  parser.on('warn', (_code: string, message: string | Error) => (failed ??= new Error(String(message))));
  parser.end(tar);
  if (failed !== undefined || entries.length === 0) {
    throw chartRepoError(`${what}: not a valid chart archive (tar)`, 'check the chart source', failed);
  }
  const files = new Map<string, Buffer>();
  for (const e of entries) {
    const slash = e.path.indexOf('/');
    if (slash <= 0) continue;
    const rel = e.path.slice(slash + 1);
    if (rel === '' || rel.split('/').includes('..')) continue;
    files.set(rel, Buffer.concat(e.data));
  }
  if (!files.has('Chart.yaml')) {
    throw chartRepoError(`${what}: the archive has no <name>/Chart.yaml`, 'check the chart source');
  }
  return files;
}

/** `files` plus the contents of vendored subchart archives (charts/x-1.0.tgz → charts/x/…), recursively. */
export function expandSubcharts(files: Map<string, Buffer>, what: string): Map<string, Buffer> {
  const out = new Map(files);
  for (const [path, data] of files) {
    const m = /^((?:charts\/[^/]+\/)*charts\/)([^/]+)\.tgz$/.exec(path);
    if (!m) continue;
    const inner = expandSubcharts(readChartArchive(data, `${what} ${path}`), `${what} ${path}`);
    const name =
      /^name:\s*['"]?([^'"\s]+)/m.exec(inner.get('Chart.yaml')?.toString('utf8') ?? '')?.[1] ?? m[2];
    for (const [rel, d] of inner) out.set(`${m[1]}${name}/${rel}`, d);
  }
  return out;
}
