/** Spec → plan: every artifact and file set a bundle will hold, read from local sources. */
import { resolve } from 'node:path';
import { specError } from '../lib/errors.js';
import type { PlannedArtifact, PlannedFileSet } from '../bundle/plan.js';
import { parseOciFrom, type LoadedSpec } from '../bundle/spec.js';
import { normalizeReference, parseReference } from '../oci/reference.js';
import { planLocalChart } from '../sources/chart.js';
import { planFiles } from '../sources/files.js';
import { MIGRATIONS_PREFIX, MIGRATIONS_SOURCE, MIGRATIONS_TARGET } from '../bundle/layout.js';
import { loadMigrationDir, SHIPPED_MIGRATIONS_DIR } from '../db/migration-set.js';
import { planModel } from '../sources/model.js';
import { parsePlatform, planOciLayoutImage } from '../sources/oci-layout.js';

export const DEFAULT_PLATFORMS = ['linux/amd64'];

export interface BundlePlan {
  name: string;
  version: string;
  platforms: string[];
  artifacts: PlannedArtifact[];
  fileSets: PlannedFileSet[];
}

export async function planBundle(
  loaded: LoadedSpec,
  options: { allPlatforms?: boolean } = {},
): Promise<BundlePlan> {
  const { spec, dir, file } = loaded;
  const platforms = spec.spec.platforms ?? DEFAULT_PLATFORMS;
  const parsedPlatforms = platforms.map((p) => parsePlatform(p));
  const artifacts: PlannedArtifact[] = [];

  for (const image of spec.spec.images ?? []) {
    const ref = normalizeReference(image.ref);
    const { layoutDir, tag } = parseOciFrom(image.from, dir);
    const source = { ref, layoutDir, tag: tag ?? parseReference(ref).tag, source: image.from };
    artifacts.push(await planOciLayoutImage(source, parsedPlatforms, options.allPlatforms ?? false));
  }
  for (const chart of spec.spec.charts ?? []) {
    artifacts.push(await planLocalChart(resolve(dir, chart.path), chart.path));
  }
  for (const model of spec.spec.models ?? []) {
    artifacts.push(
      await planModel({
        name: model.name,
        ggufPath: resolve(dir, model.gguf),
        modelfilePath: model.modelfile === undefined ? undefined : resolve(dir, model.modelfile),
        source: model.gguf,
      }),
    );
  }
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
  return { name: spec.metadata.name, version: spec.metadata.version, platforms, artifacts, fileSets };
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
