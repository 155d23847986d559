/**
 * Spec → plan: every artifact and file set a bundle will hold. Local sources are read in place;
 * remote ones (registries, chart repositories, Ollama) are resolved through `remote` — manifests and
 * metadata fetched, large blobs listed for `RemoteSources.fetchAll` (skipped by a dry run).
 */
import { resolve } from 'node:path';
import { specError } from '../lib/errors.js';
import { PLACEHOLDER_DIGEST } from '../lib/digest.js';
import { mapLimit } from '../lib/concurrency.js';
import type { BundlePlan, ChartImage, ChartInfo, PlannedArtifact, PlannedFileSet } from '../bundle/plan.js';
import { parseOciFrom, type LoadedSpec } from '../bundle/spec.js';
import { normalizeReference, parseReference } from '../oci/reference.js';
import { planLocalChart } from '../sources/chart.js';
import { dependencyVendor } from '../sources/chart-deps.js';
import { planRepoChart, type ChartRepoContext } from '../sources/chart-repo.js';
import type { HelmRepository } from '../sources/helm-repositories.js';
import { planFiles } from '../sources/files.js';
import { MIGRATIONS_PREFIX, MIGRATIONS_SOURCE, MIGRATIONS_TARGET } from '../bundle/layout.js';
import { loadMigrationDir, SHIPPED_MIGRATIONS_DIR } from '../db/migration-set.js';
import { planModel } from '../sources/model.js';
import { planOllamaStoreModel } from '../sources/ollama-model.js';
import { parsePlatform } from '../oci/platform.js';
import { planOciLayoutImage } from '../sources/oci-layout.js';
import type { RemoteSources } from '../sources/pull-sources.js';

/** What planning needs to reach remote sources; absent, a spec naming one is refused. */
export interface RemoteAccess {
  sources: RemoteSources;
  chartRepo: ChartRepoContext;
  /** Helm's repositories.yaml (for `@alias` chart dependencies), read on first need. */
  helmRepositories?: () => HelmRepository[];
}

export const DEFAULT_PLATFORMS = ['linux/amd64'];

const RESOLVE_CONCURRENCY = 6;

function offline(what: string): Error {
  return specError(
    `${what} is a remote source, and this command reads local sources only`,
    'run bundle create',
  );
}

export async function planBundle(
  loaded: LoadedSpec,
  options: { allPlatforms?: boolean; remote?: RemoteAccess; addChartImages?: boolean } = {},
): Promise<BundlePlan> {
  const { spec, dir, file } = loaded;
  const platforms = spec.spec.platforms ?? DEFAULT_PLATFORMS;
  const parsedPlatforms = platforms.map((p) => parsePlatform(p));
  const artifacts: PlannedArtifact[] = [];
  const remote = options.remote;

  // Images resolve concurrently (a manifest and configs each: round trips, not bandwidth); order is kept.
  const images = await mapLimit(spec.spec.images ?? [], RESOLVE_CONCURRENCY, async (image) => {
    const ref = normalizeReference(image.ref);
    if (image.from?.startsWith('oci:')) {
      const { layoutDir, tag } = parseOciFrom(image.from, dir);
      const source = { ref, layoutDir, tag: tag ?? parseReference(ref).tag, source: image.from };
      return planOciLayoutImage(source, parsedPlatforms, options.allPlatforms ?? false);
    }
    if (!remote) throw offline(image.from ?? ref);
    return remote.sources.image(image.ref, image.from);
  });
  artifacts.push(...images);
  for (const chart of spec.spec.charts ?? []) {
    if ('path' in chart) {
      const chartDir = resolve(dir, chart.path);
      const vendor = remote
        ? dependencyVendor(
            {
              chartRepo: remote.chartRepo,
              ociArchive: (ref) => remote.sources.ociChartArchive(ref),
              ociVersions: (base) => remote.sources.ociChartVersions(base),
              helmRepositories: remote.helmRepositories,
            },
            chartDir,
          )
        : undefined;
      artifacts.push(await planLocalChart(chartDir, chart.path, vendor));
    } else if ('repo' in chart) {
      if (!remote) throw offline(chart.repo);
      artifacts.push(await planRepoChart(remote.chartRepo, chart));
    } else {
      if (!remote) throw offline(chart.ref);
      artifacts.push(await remote.sources.ociChart(chart.ref));
    }
  }
  for (const model of spec.spec.models ?? []) {
    if (model.gguf !== undefined) {
      artifacts.push(
        await planModel({
          name: model.name!,
          ggufPath: resolve(dir, model.gguf),
          modelfilePath: model.modelfile === undefined ? undefined : resolve(dir, model.modelfile),
          source: model.gguf,
        }),
      );
    } else if (model.from?.startsWith('ollama-store:')) {
      if (model.name === undefined) {
        throw specError(
          `${file}: ${model.from} needs a name (the model to take from the store)`,
          'add name: MODEL:TAG',
        );
      }
      artifacts.push(await planOllamaStoreModel(model.from, model.name, dir));
    } else {
      if (!remote) throw offline(model.from ?? model.name ?? 'model');
      artifacts.push(await remote.sources.model(model.name, model.from));
    }
  }

  // Images the charts declare: listed always, added as artifacts with --add-chart-images.
  const chartImages: ChartImage[] = [];
  const have = () => new Set(artifacts.filter((a) => a.kind === 'image').map((a) => a.refName));
  const declared = new Map<string, string>();
  for (const a of artifacts.filter((x) => x.kind === 'chart')) {
    const info = a.finish(() => PLACEHOLDER_DIGEST).info as ChartInfo;
    for (const image of info.images)
      if (!declared.has(image)) declared.set(image, `${info.name} ${info.version}`);
  }
  if (options.addChartImages) {
    if (!remote) throw specError('--add-chart-images pulls from registries', 'run bundle create');
    const present = have();
    for (const image of declared.keys()) {
      if (!present.has(image)) artifacts.push(await remote.sources.image(image, undefined));
    }
  }
  const present = have();
  for (const [image, chart] of declared) chartImages.push({ chart, image, inBundle: present.has(image) });

  const seen = new Set<string>();
  for (const a of artifacts) {
    if (seen.has(a.refName)) {
      throw specError(`${file}: ${a.refName} is listed twice`, 'remove the duplicate entry from the spec');
    }
    seen.add(a.refName);
  }

  const fileSets: PlannedFileSet[] = [];
  const paths = new Map<string, string>();
  for (const entry of spec.spec.files ?? []) {
    const set = await planFiles(entry, dir);
    if (set.files.some((f) => f.path.startsWith(MIGRATIONS_PREFIX))) {
      throw specError(
        `${file}: files entry ${entry.path} maps into ${MIGRATIONS_PREFIX}, which holds kubechat's database migrations`,
        'give the files entry another target',
      );
    }
    for (const f of set.files) {
      const other = paths.get(f.path);
      if (other !== undefined) {
        throw specError(
          `${file}: ${f.source} and ${other} both map to ${f.path}`,
          'give the files entries different targets',
        );
      }
      paths.set(f.path, f.source);
    }
    fileSets.push(set);
  }
  fileSets.push(await planMigrations());
  return {
    name: spec.metadata.name,
    version: spec.metadata.version,
    platforms,
    artifacts,
    fileSets,
    chartImages,
  };
}

/** Every bundle carries the database migrations of the kubechat that made it; install applies them. */
async function planMigrations(): Promise<PlannedFileSet> {
  const valid = new Set((await loadMigrationDir(SHIPPED_MIGRATIONS_DIR)).map((m) => m.file));
  const set = await planFiles({ path: SHIPPED_MIGRATIONS_DIR, target: MIGRATIONS_TARGET }, '/');
  return {
    source: MIGRATIONS_SOURCE,
    target: MIGRATIONS_TARGET,
    files: set.files.filter((f) => valid.has(f.path.slice(MIGRATIONS_PREFIX.length))),
  };
}
