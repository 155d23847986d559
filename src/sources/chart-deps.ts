/**
 * Vendoring chart dependencies, as `helm dependency build` does: every Chart.yaml dependency that the
 * chart's charts/ directory lacks (neither `charts/<name>/` nor `charts/<name>-*.tgz`) is fetched and
 * added as `charts/<name>-<version>.tgz`, so the bundled chart installs with no repository at hand.
 *
 * Repositories: `https://…` (index.yaml; an exact version or a SemVer range, highest match wins),
 * `oci://host/path` (an exact version, or a range resolved against the repository's tags), `file://DIR` (a local chart, packaged). Helm's repository aliases
 * (`@name`, `alias:name`) are looked up in Helm's repositories.yaml, as `helm dependency build` does.
 */
import { readFile } from 'node:fs/promises';
import valid from 'semver/functions/valid.js';
import maxSatisfying from 'semver/ranges/max-satisfying.js';
import validRange from 'semver/ranges/valid.js';
import { join, resolve } from 'node:path';
import { chartDependencyError, KubechatError } from '../lib/errors.js';
import { packageChart } from './chart-package.js';
import { fetchRepoChart, type ChartRepoContext } from './chart-repo.js';
import { readChartYaml, type ChartMeta } from './chart.js';
import { aliasName, helmRepositoryConfigPath, type HelmRepository } from './helm-repositories.js';

export interface VendorContext {
  chartRepo: ChartRepoContext;
  /** Pulls a Helm OCI chart archive (oci://host/path/name:version); undefined when offline-only. */
  ociArchive?: (ref: string) => Promise<Buffer>;
  /** The versions (tags) of an OCI chart repository oci://host/path/name, for a range. */
  ociVersions?: (base: string) => Promise<string[]>;
  /** Helm's repositories (repositories.yaml), for `@alias` dependencies; read on first need. */
  helmRepositories?: () => HelmRepository[];
}

export function dependencyVendor(ctx: VendorContext, chartDir: string) {
  return async (meta: ChartMeta, present: Set<string>): Promise<Map<string, Buffer>> => {
    const out = new Map<string, Buffer>();
    for (const dep of meta.dependencies) {
      const has = [...present].some(
        (p) =>
          p === `charts/${dep.name}/Chart.yaml` ||
          (p.startsWith(`charts/${dep.name}-`) && p.endsWith('.tgz')),
      );
      if (has) continue;
      const label = `chart ${meta.name} ${meta.version}: dependency ${dep.name}`;
      const fail = (msg: string, fix: string, cause?: unknown) =>
        chartDependencyError(`${label}: ${msg}`, fix, cause);
      let repo = dep.repository;
      try {
        const alias = aliasName(repo);
        if (alias !== undefined) {
          const known = ctx.helmRepositories?.() ?? [];
          const hit = known.find((r) => r.name === alias);
          if (!hit) {
            throw fail(
              `repository alias "${repo}" is not in ${helmRepositoryConfigPath()}` +
                (known.length ? ` (it has: ${known.map((r) => r.name).join(', ')})` : ''),
              `helm repo add ${alias} URL on this host, or write the repository URL in Chart.yaml`,
            );
          }
          repo = hit.url;
        }
        if (repo.startsWith('file://')) {
          const dir = resolve(chartDir, repo.slice('file://'.length));
          const text = await readFile(join(dir, 'Chart.yaml'), 'utf8').catch((err: unknown) => {
            throw fail(`${dir} has no Chart.yaml`, 'fix the file:// path in Chart.yaml dependencies', err);
          });
          const sub = readChartYaml(text, join(dir, 'Chart.yaml'));
          const { tgz } = await packageChart(dir, sub.name);
          out.set(`charts/${sub.name}-${sub.version}.tgz`, tgz);
          continue;
        }
        if (dep.version === undefined) {
          throw fail('has no version', 'pin a version (or range) for every dependency in Chart.yaml');
        }
        if (/^https?:\/\//.test(repo)) {
          const { tgz, version } = await fetchRepoChart(ctx.chartRepo, repo, dep.name, dep.version);
          out.set(`charts/${dep.name}-${version}.tgz`, tgz);
        } else if (repo.startsWith('oci://')) {
          if (!ctx.ociArchive)
            throw fail(
              'oci:// repositories need the registry client',
              'vendor it with helm dependency build',
            );
          const base = `${repo.replace(/\/$/, '')}/${dep.name}`;
          let version = dep.version;
          if (!valid(version)) {
            // A range (~1.2.0, ^2, >=1 <2): the highest version among the repository's tags, as Helm does.
            if (!validRange(version) || !ctx.ociVersions)
              throw fail(
                `version "${version}" is neither a version nor a SemVer range`,
                'fix it in Chart.yaml',
              );
            const versions = await ctx.ociVersions(base);
            const best = maxSatisfying(
              versions.filter((v) => valid(v)),
              version,
            );
            if (!best) {
              throw fail(
                `${base} has no version matching ${version} (it has: ${versions.slice(-5).join(', ') || 'none'})`,
                'widen the range in Chart.yaml or push a matching version',
              );
            }
            version = best;
          }
          out.set(`charts/${dep.name}-${version}.tgz`, await ctx.ociArchive(`${base}:${version}`));
        } else {
          throw fail(
            `repository "${repo}" is not a URL kubechat can fetch from`,
            'write https://…, oci://…, file://… or a helm repo alias (@name) in Chart.yaml, or run helm dependency build first',
          );
        }
      } catch (err) {
        if (err instanceof KubechatError && err.kind !== 'chartDependency') {
          throw chartDependencyError(`${label} from ${repo}: ${err.message}`, err.fixTemplate, err);
        }
        throw err;
      }
    }
    return out;
  };
}
