/**
 * Helm chart repositories (https://helm.sh/docs/topics/chart_repository/): `<repo>/index.yaml` lists
 * each chart's versions with the archive's sha256 (`digest`) and its `urls` (absolute, or relative to
 * the repository). The archive is fetched once into the content cache, checked against that digest,
 * and stored in the bundle byte-for-byte as the chart layer.
 */
import { readFile } from 'node:fs/promises';
import { load } from 'js-yaml';
// The four semver functions this needs, not all of semver (47 modules on every create's start-up).
import valid from 'semver/functions/valid.js';
import rcompare from 'semver/functions/rcompare.js';
import maxSatisfying from 'semver/ranges/max-satisfying.js';
import validRange from 'semver/ranges/valid.js';
import type { PlannedArtifact } from '../bundle/plan.js';
import type { BlobCache } from '../cache/blob-cache.js';
import { chartRepoError, notFoundError, upstreamDigestError } from '../lib/errors.js';
import { sha256Digest } from '../lib/digest.js';
import { readChartArchive } from './chart-archive.js';
import { chartArtifact, readChartYaml } from './chart.js';

/** What chart sources need from HTTP: a whole (small) body, or undefined on 404. */
export interface HttpGetter {
  get(url: string, what: string, maxBytes: number): Promise<Buffer | undefined>;
}

const MAX_INDEX = 256 * 1024 * 1024;
const MAX_ARCHIVE = 100 * 1024 * 1024;

interface IndexEntry {
  version: string;
  digest?: string;
  urls: string[];
}

export interface ChartRepoContext {
  http: HttpGetter;
  cache: BlobCache;
  /** Remembered index.yaml per repository for one run (a spec often takes several charts from one repo). */
  indexes?: Map<string, Promise<Record<string, IndexEntry[]>>>;
  /** Bytes actually downloaded, for the summary. */
  onDownloaded?: (bytes: number) => void;
}

const repoBase = (repo: string) => (repo.endsWith('/') ? repo : `${repo}/`);

async function fetchIndex(ctx: ChartRepoContext, repo: string): Promise<Record<string, IndexEntry[]>> {
  const url = new URL('index.yaml', repoBase(repo)).toString();
  const body = await ctx.http.get(url, `chart repository ${repo}`, MAX_INDEX);
  if (body === undefined) {
    throw chartRepoError(
      `chart repository ${repo}: no index.yaml at ${url}`,
      'check the repo URL (the directory that holds index.yaml)',
    );
  }
  ctx.onDownloaded?.(body.length);
  let doc: unknown;
  try {
    doc = load(body.toString('utf8'));
  } catch (err) {
    throw chartRepoError(
      `chart repository ${repo}: index.yaml is not valid YAML`,
      'check the repository',
      err,
    );
  }
  const entries = (doc as { entries?: unknown } | null)?.entries;
  if (typeof entries !== 'object' || entries === null) {
    throw chartRepoError(`chart repository ${repo}: index.yaml has no entries`, 'check the repo URL');
  }
  const out: Record<string, IndexEntry[]> = {};
  for (const [name, list] of Object.entries(entries as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    out[name] = list
      .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
      .map((e) => ({
        version: String(e.version ?? ''),
        digest: typeof e.digest === 'string' ? e.digest : undefined,
        urls: Array.isArray(e.urls) ? e.urls.map(String) : [],
      }));
  }
  return out;
}

function index(ctx: ChartRepoContext, repo: string) {
  ctx.indexes ??= new Map();
  let p = ctx.indexes.get(repo);
  if (!p) {
    p = fetchIndex(ctx, repo);
    ctx.indexes.set(repo, p);
  }
  return p;
}

/** The index entry for `name` at `version`: exact, or the highest matching a SemVer range (dependencies). */
async function findEntry(
  ctx: ChartRepoContext,
  repo: string,
  name: string,
  version: string,
): Promise<IndexEntry> {
  const versions = (await index(ctx, repo))[name];
  if (!versions || versions.length === 0) {
    throw chartRepoError(
      `chart repository ${repo} has no chart "${name}"`,
      'check the chart name (helm search repo NAME)',
    );
  }
  let entry = versions.find((e) => e.version === version);
  if (!entry && validRange(version) && !valid(version)) {
    const best = maxSatisfying(
      versions.map((e) => e.version).filter((v) => valid(v)),
      version,
    );
    entry = versions.find((e) => e.version === best);
  }
  if (!entry) {
    const recent = versions
      .map((e) => e.version)
      .filter((v) => valid(v))
      .sort(rcompare)
      .slice(0, 5);
    throw notFoundError(
      `chart repository ${repo} has no version ${version} of "${name}" (latest: ${recent.join(', ') || 'none'})`,
      'pin a version the repository lists',
    );
  }
  return entry;
}

/** Downloads (or reuses from the cache) a chart archive listed in a repository and checks its digest. */
export async function fetchRepoChart(
  ctx: ChartRepoContext,
  repo: string,
  name: string,
  version: string,
): Promise<{ tgz: Buffer; version: string; digest: string }> {
  const entry = await findEntry(ctx, repo, name, version);
  const what = `chart ${name} ${entry.version} from ${repo}`;
  if (!entry.digest || !/^[a-f0-9]{64}$/.test(entry.digest)) {
    throw chartRepoError(
      `${what}: index.yaml lists no sha256 digest, so the archive cannot be verified`,
      'regenerate the index with helm repo index, or vendor the chart and use path:',
    );
  }
  const digest = `sha256:${entry.digest}`;
  if (await ctx.cache.has(digest)) {
    return { tgz: await readFile(ctx.cache.blobPath(digest)), version: entry.version, digest };
  }
  const url = entry.urls[0];
  if (url === undefined) throw chartRepoError(`${what}: index.yaml lists no URL`, 'check the repository');
  const absolute = new URL(url, repoBase(repo)).toString();
  const tgz = await ctx.http.get(absolute, what, MAX_ARCHIVE);
  if (tgz === undefined) {
    throw chartRepoError(
      `${what}: ${absolute} is not there (404)`,
      'the repository index is stale; tell its owner',
    );
  }
  ctx.onDownloaded?.(tgz.length);
  const actual = sha256Digest(tgz);
  if (actual !== digest) {
    throw upstreamDigestError(
      `${what}: the archive hashes to ${actual}, index.yaml says ${digest}`,
      'the repository served different content than its index lists: retry, or report it to the repository',
    );
  }
  await ctx.cache.putBuffer(digest, tgz);
  return { tgz, version: entry.version, digest };
}

export async function planRepoChart(
  ctx: ChartRepoContext,
  entry: { name: string; repo: string; version: string },
): Promise<PlannedArtifact> {
  const { tgz } = await fetchRepoChart(ctx, entry.repo, entry.name, entry.version);
  const where = `chart ${entry.name} ${entry.version} from ${entry.repo}`;
  const files = readChartArchive(tgz, where);
  const meta = readChartYaml(files.get('Chart.yaml')!.toString('utf8'), `${where}: Chart.yaml`);
  if (meta.name !== entry.name || meta.version !== entry.version) {
    throw chartRepoError(
      `${where}: the archive holds ${meta.name} ${meta.version}`,
      'the repository index is inconsistent: report it to the repository',
    );
  }
  return chartArtifact({ meta, files, tgz, where, source: `${entry.repo}#${entry.name}:${entry.version}` });
}
