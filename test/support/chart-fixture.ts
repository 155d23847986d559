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
