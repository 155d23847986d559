/**
 * Plans a Helm chart from a local chart directory, in the OCI form `helm push` produces
 * (helm pkg/registry): an image manifest whose config is the Chart.yaml metadata as JSON
 * (application/vnd.cncf.helm.config.v1+json) and whose single layer is the `helm package` tgz.
 *
 * Unlike `helm package`/`helm push`, the output is reproducible (see chart-package.ts; and the manifest
 * has no created annotation): the same chart directory always gives the same digests (same zlib).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FAILSAFE_SCHEMA, load } from 'js-yaml';
import type { ChartInfo, MemoryBlob, PlannedArtifact } from '../bundle/plan.js';
import { sha256Digest } from '../lib/digest.js';
import { describeFsError, sourceError } from '../lib/errors.js';
import { MediaType } from '../oci/media-types.js';
import { tryNormalizeReference } from '../oci/reference.js';
import { expandSubcharts } from './chart-archive.js';
import { packageChart } from './chart-package.js';

const SEMVER_RE =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** The chart name becomes an OCI repository path component (charts/<name>). */
const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const IMAGES_ANNOTATION = 'helm.sh/images';

type Yaml = Record<string, unknown>;
const isMap = (v: unknown): v is Yaml => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Chart.yaml is read with the failsafe schema, so every scalar stays the string it was written as
 * (appVersion 1.10 stays "1.10"); the few booleans are converted back by hand.
 */
function scalar(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' && v !== '~' && v !== 'null' ? v : undefined;
}

function parseYaml(text: string, file: string, failsafe: boolean): unknown {
  try {
    return load(text, failsafe ? { schema: FAILSAFE_SCHEMA } : {});
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw sourceError(
      `${file}: invalid YAML: ${first}`,
      'fix the YAML syntax (helm lint shows the same error)',
      err,
    );
  }
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.map(scalar).filter((s): s is string => s !== undefined) : [];
}

/** Drops undefined, empty strings/lists/maps and false, like Go's omitempty. */
function compact(o: Yaml): Yaml {
  return Object.fromEntries(
    Object.entries(o).filter(
      ([, v]) =>
        v !== undefined &&
        v !== false &&
        v !== '' &&
        !(Array.isArray(v) && v.length === 0) &&
        !(isMap(v) && Object.keys(v).length === 0),
    ),
  );
}

/** Go's json.Marshal escapes these; doing the same keeps the config byte-identical to Helm's. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Helm escapes non-ASCII annotation values as \uXXXX text, for registries that reject them. */
function escapeNonAscii(s: string): string {
  let out = '';
  for (const c of s) {
    const code = c.codePointAt(0) ?? 0;
    if (code < 0x80) out += c;
    else for (let k = 0; k < c.length; k++) out += `\\u${c.charCodeAt(k).toString(16).padStart(4, '0')}`;
  }
  return out;
}

export interface ChartDependency {
  name: string;
  version: string | undefined;
  repository: string;
  alias: string | undefined;
}

export interface ChartMeta {
  name: string;
  dependencies: ChartDependency[];
  version: string;
  appVersion: string | undefined;
  annotations: Record<string, string>;
  /** Chart.yaml as Helm's chart.Metadata marshals it: field order and omitempty as in Go. */
  config: Yaml;
}

function readMetadata(doc: unknown, file: string): ChartMeta {
  if (!isMap(doc)) throw sourceError(`${file}: not a YAML mapping`, 'write Chart.yaml as key: value pairs');
  const fix = 'see https://helm.sh/docs/topics/charts/#the-chartyaml-file';
  const apiVersion = scalar(doc.apiVersion);
  if (apiVersion !== 'v2')
    throw sourceError(`${file}: apiVersion must be v2, found ${apiVersion ?? 'none'}`, fix);
  const name = scalar(doc.name);
  if (name === undefined || !NAME_RE.test(name)) {
    throw sourceError(
      `${file}: name ${JSON.stringify(name ?? '')} must be lowercase letters, digits, ".", "_" or "-"`,
      fix,
    );
  }
  const version = scalar(doc.version);
  if (version === undefined || !SEMVER_RE.test(version)) {
    throw sourceError(
      `${file}: version ${JSON.stringify(version ?? '')} is not a SemVer 2 version like 1.2.3`,
      fix,
    );
  }
  const annotations: Record<string, string> = {};
  if (doc.annotations !== undefined && doc.annotations !== '') {
    if (!isMap(doc.annotations)) throw sourceError(`${file}: annotations must be a mapping`, fix);
    for (const key of Object.keys(doc.annotations).sort()) {
      const v = doc.annotations[key];
      if (typeof v !== 'string')
        throw sourceError(`${file}: annotation ${key} must be a string (quote it or use |)`, fix);
      annotations[key] = v;
    }
  }
  const maintainers = (Array.isArray(doc.maintainers) ? doc.maintainers : [])
    .filter(isMap)
    .map((m) => compact({ name: scalar(m.name), email: scalar(m.email), url: scalar(m.url) }));
  const dependencies = (Array.isArray(doc.dependencies) ? doc.dependencies : []).filter(isMap).map((d) => ({
    name: scalar(d.name) ?? '',
    ...compact({ version: scalar(d.version) }),
    repository: scalar(d.repository) ?? '',
    ...compact({
      condition: scalar(d.condition),
      tags: stringList(d.tags),
      enabled: d.enabled === 'true',
      'import-values': d['import-values'],
      alias: scalar(d.alias),
    }),
  }));
  const appVersion = scalar(doc.appVersion);
  const config = compact({
    name,
    home: scalar(doc.home),
    sources: stringList(doc.sources),
    version,
    description: scalar(doc.description),
    keywords: stringList(doc.keywords),
    maintainers,
    icon: scalar(doc.icon),
    apiVersion,
    condition: scalar(doc.condition),
    tags: scalar(doc.tags),
    appVersion,
    deprecated: doc.deprecated === 'true',
    annotations,
    kubeVersion: scalar(doc.kubeVersion),
    dependencies,
    type: scalar(doc.type),
  });
  const deps: ChartDependency[] = dependencies.map((d) => ({
    name: d.name,
    version: scalar((d as Yaml).version),
    repository: d.repository,
    alias: scalar((d as Yaml).alias),
  }));
  return { name, version, appVersion, annotations, config, dependencies: deps };
}

/** The manifest annotations `helm push` sets, minus org.opencontainers.image.created. */
function manifestAnnotations(meta: ChartMeta): Record<string, string> {
  const c = meta.config;
  const out: Record<string, string> = {};
  const put = (key: string, v: unknown) => {
    if (typeof v === 'string' && v.trim() !== '') out[key] = escapeNonAscii(v);
  };
  put('org.opencontainers.image.description', c.description);
  put('org.opencontainers.image.title', meta.name);
  put('org.opencontainers.image.version', meta.version);
  put('org.opencontainers.image.url', c.home);
  put('org.opencontainers.image.source', (c.sources as string[] | undefined)?.[0]);
  const authors = ((c.maintainers as Yaml[] | undefined) ?? []).map(
    (m) => `${String(m.name ?? '')}${m.email ? ` (${String(m.email)})` : ''}`,
  );
  put('org.opencontainers.image.authors', authors.join(', '));
  // Chart annotations win over the generated ones, except title and version (Helm keeps those).
  for (const [key, v] of Object.entries(meta.annotations)) {
    if (key !== 'org.opencontainers.image.title' && key !== 'org.opencontainers.image.version') put(key, v);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Images from `image:` values: "repo:tag" strings and {registry, repository, tag, digest} maps. */
function valuesImages(node: unknown, appVersion: string | undefined, out: Set<string>): void {
  if (Array.isArray(node)) for (const v of node) valuesImages(v, appVersion, out);
  if (!isMap(node)) return;
  for (const [key, v] of Object.entries(node)) {
    let candidate: string | undefined;
    if (key === 'image' && typeof v === 'string') candidate = v;
    if (key === 'image' && isMap(v) && typeof v.repository === 'string' && v.repository !== '') {
      // Charts conventionally default the tag to appVersion ({{ .Values.image.tag | default .Chart.AppVersion }}).
      const tag = typeof v.tag === 'string' || typeof v.tag === 'number' ? String(v.tag) : appVersion;
      candidate = `${typeof v.registry === 'string' && v.registry !== '' ? `${v.registry}/` : ''}${v.repository}`;
      if (tag !== undefined && tag !== '') candidate += `:${tag}`;
      if (typeof v.digest === 'string' && v.digest !== '') candidate += `@${v.digest}`;
    }
    const ref = candidate && !candidate.includes('{{') ? tryNormalizeReference(candidate) : undefined;
    if (ref !== undefined) out.add(ref);
    valuesImages(v, appVersion, out);
  }
}

/** Images of the chart and its unpacked subcharts (charts/<sub>/), normalised, deduped, sorted. */
function discoverImages(files: Map<string, Buffer>, dir: string): string[] {
  const out = new Set<string>();
  for (const path of files.keys()) {
    const prefix = /^((?:charts\/[^/]+\/)*)Chart\.yaml$/.exec(path)?.[1];
    if (prefix === undefined) continue;
    const file = join(dir, path);
    const meta = parseYaml(files.get(path)?.toString('utf8') ?? '', file, true);
    const appVersion = isMap(meta) ? scalar(meta.appVersion) : undefined;
    const declared = isMap(meta) && isMap(meta.annotations) ? meta.annotations[IMAGES_ANNOTATION] : undefined;
    if (typeof declared === 'string') {
      const list = parseYaml(declared, `${file} annotation ${IMAGES_ANNOTATION}`, false);
      for (const entry of Array.isArray(list) ? list : []) {
        const image = isMap(entry) ? entry.image : undefined;
        const ref = typeof image === 'string' ? tryNormalizeReference(image) : undefined;
        if (ref === undefined) {
          throw sourceError(
            `${file}: ${IMAGES_ANNOTATION} entry ${JSON.stringify(entry)} has no valid image reference`,
            'write each entry as "- name: NAME" + "  image: registry/repository:tag"',
          );
        }
        out.add(ref);
      }
    }
    const values = files.get(`${prefix}values.yaml`);
    if (values)
      valuesImages(
        parseYaml(values.toString('utf8'), join(dir, prefix, 'values.yaml'), false),
        appVersion,
        out,
      );
  }
  return [...out].sort();
}

function memoryBlob(mediaType: string, data: Buffer): MemoryBlob {
  return { mediaType, digest: sha256Digest(data), size: data.length, data };
}

/** A chart's file that is Chart.yaml metadata → parsed and checked (name, SemVer version, annotations). */
export function readChartYaml(text: string, file: string): ChartMeta {
  return readMetadata(parseYaml(text, file, true), file);
}

/**
 * The Helm OCI artifact for a packaged chart: config = Chart.yaml metadata as JSON, one layer = `tgz`
 * exactly as given (a chart downloaded from a repository keeps the bytes its index.yaml digest names).
 * `files` are the chart's files by path relative to the chart root, for image discovery.
 */
export function chartArtifact(input: {
  meta: ChartMeta;
  files: Map<string, Buffer>;
  tgz: Buffer;
  /** Where the files are, for messages. */
  where: string;
  source: string;
}): PlannedArtifact {
  const { meta, files, tgz } = input;
  const layer = memoryBlob(MediaType.helmChart, tgz);
  const config = memoryBlob(MediaType.helmConfig, Buffer.from(goJson(meta.config)));
  const descriptor = (b: MemoryBlob) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: descriptor(config),
    layers: [descriptor(layer)],
    annotations: manifestAnnotations(meta),
  };
  const root = memoryBlob(MediaType.ociManifest, Buffer.from(goJson(manifest)));
  return chartArtifactFromManifest({
    meta,
    files,
    where: input.where,
    source: input.source,
    root,
    blobs: [config, layer],
  });
}

/** A chart whose OCI manifest already exists (pulled from an OCI registry): kept byte-for-byte. */
export function chartArtifactFromManifest(input: {
  meta: ChartMeta;
  files: Map<string, Buffer>;
  where: string;
  source: string;
  root: MemoryBlob;
  blobs: MemoryBlob[];
}): PlannedArtifact {
  const { meta, root } = input;
  // OCI tags cannot hold "+": Helm stores 1.0.0+build as tag 1.0.0_build.
  const refName = `charts/${meta.name}:${meta.version.replace(/\+/g, '_')}`;
  const info: ChartInfo = {
    kind: 'chart',
    name: meta.name,
    version: meta.version,
    ref: refName,
    source: input.source,
    digest: root.digest,
    images: discoverImages(expandSubcharts(input.files, input.where), input.where),
  };
  if (meta.appVersion !== undefined) info.appVersion = meta.appVersion;
  return { kind: 'chart', refName, blobs: input.blobs, finish: () => ({ root, extra: [], info }) };
}

/**
 * A local chart directory. `vendor` returns the archives of dependencies its charts/ lacks (Chart.yaml
 * dependencies), added as charts/<name>-<version>.tgz the way `helm dependency build` would.
 */
export async function planLocalChart(
  dir: string,
  source: string,
  vendor?: (meta: ChartMeta, present: Set<string>) => Promise<Map<string, Buffer>>,
): Promise<PlannedArtifact> {
  const chartFile = join(dir, 'Chart.yaml');
  const text = await readFile(chartFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      throw sourceError(
        `${chartFile}: no Chart.yaml, not a Helm chart directory`,
        'point the chart source at a directory holding Chart.yaml',
        err,
      );
    }
    throw describeFsError(err, chartFile, 'read', true) ?? err;
  });
  const meta = readMetadata(parseYaml(text, chartFile, true), chartFile);
  let { files, tgz } = await packageChart(dir, meta.name);
  if (!files.has('Chart.yaml'))
    throw sourceError(`${dir}/.helmignore: it ignores Chart.yaml`, 'remove the rule that matches Chart.yaml');
  if (vendor && meta.dependencies.length > 0) {
    const extra = await vendor(meta, new Set(files.keys()));
    if (extra.size > 0) ({ files, tgz } = await packageChart(dir, meta.name, extra));
  }
  return chartArtifact({ meta, files, tgz, where: dir, source });
}
