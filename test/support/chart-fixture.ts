/** Writes a small but valid Helm chart directory for tests. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { dump } from 'js-yaml';

export interface ChartFixtureOptions {
  name: string;
  version: string;
  appVersion?: string;
  /** Listed in the helm.sh/images annotation of Chart.yaml, as {name, image} entries. */
  images?: string[];
  /** values.yaml content; default: one `image:` map for the chart's own image. */
  values?: string;
  /** Extra files by chart-relative path (e.g. `.helmignore`, `charts/sub/Chart.yaml`). */
  files?: Record<string, string>;
}

/** Writes the chart into `dir` (the chart directory itself) and returns `dir`. */
export async function writeChart(dir: string, opts: ChartFixtureOptions): Promise<string> {
  const chart: Record<string, unknown> = {
    apiVersion: 'v2',
    name: opts.name,
    description: `Test chart ${opts.name}`,
    type: 'application',
    version: opts.version,
  };
  if (opts.appVersion !== undefined) chart.appVersion = opts.appVersion;
  if (opts.images && opts.images.length > 0) {
    const list = opts.images.map((image, i) => ({ name: `image${i}`, image }));
    chart.annotations = { 'helm.sh/images': dump(list) };
  }
  const values =
    opts.values ??
    [
      'replicaCount: 1',
      'image:',
      `  repository: example/${opts.name}`,
      '  tag: "1.0.0"',
      '  pullPolicy: IfNotPresent',
      '',
    ].join('\n');
  const files: Record<string, string> = {
    'Chart.yaml': dump(chart),
    'values.yaml': values,
    'templates/deployment.yaml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: {{ .Release.Name }}',
      'spec:',
      '  replicas: {{ .Values.replicaCount | default 1 }}',
      '  selector:',
      '    matchLabels: { app: {{ .Release.Name }} }',
      '  template:',
      '    metadata:',
      '      labels: { app: {{ .Release.Name }} }',
      '    spec:',
      '      containers:',
      '        - name: main',
      '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
      '',
    ].join('\n'),
    ...opts.files,
  };
  for (const [rel, content] of Object.entries(files)) {
    const path = join(dir, rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
  return dir;
}

/**
 * The paths under `<chart>/charts/` in the chart archives a bundle holds: extracts the bundle into
 * `workDir` and lists every gzip tar blob (each listing read to the end: `grep -q` would cut tar off
 * with SIGPIPE and fail the pipeline under pipefail).
 */
export async function vendoredCharts(bundle: string, workDir: string, chart: string): Promise<string[]> {
  const { mkdir } = await import('node:fs/promises');
  const { sh } = await import('./cli.js');
  await mkdir(workDir, { recursive: true });
  const x = await sh(`zstd -dc '${bundle}' | tar -x -C '${workDir}'`);
  if (x.code !== 0) throw new Error(`extracting ${bundle}: ${x.stderr}`);
  const found = await sh(
    `for f in '${workDir}'/blobs/sha256/*; do tar -tzf "$f" 2>/dev/null; done | grep -F '${chart}/charts/' || true`,
  );
  return found.stdout.split('\n').filter(Boolean).sort();
}
