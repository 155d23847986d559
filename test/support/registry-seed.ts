/**
 * Seeding a test registry: images with skopeo (from generated OCI layouts), and artifacts skopeo does
 * not make (Ollama models, Helm OCI charts) over the distribution API: blob uploads (POST + PUT) and a
 * manifest PUT, the way `ollama push` and `helm push` do it.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { sh } from './cli.js';
import { MediaType } from '../../src/oci/media-types.js';

const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export async function skopeoCopy(from: string, to: string, extra = ''): Promise<void> {
  const r = await sh(`skopeo copy --quiet --dest-tls-verify=false ${extra} '${from}' '${to}'`);
  if (r.code !== 0) throw new Error(`skopeo copy ${from} ${to}: ${r.stderr}`);
}

export async function pushBlob(base: string, repo: string, data: Buffer): Promise<string> {
  const digest = digestOf(data);
  const start = await request(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  if (start.statusCode !== 202) throw new Error(`upload start: HTTP ${start.statusCode}`);
  const location = new URL(String(start.headers.location), base);
  location.searchParams.set('digest', digest);
  const put = await request(location.toString(), {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body: data,
  });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`blob upload: HTTP ${put.statusCode}`);
  return digest;
}

export async function pushManifest(base: string, repo: string, tag: string, data: Buffer, mediaType: string) {
  const res = await request(`${base}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    headers: { 'content-type': mediaType },
    body: data,
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`manifest PUT: HTTP ${res.statusCode} ${text}`);
  return digestOf(data);
}

export interface OllamaFixture {
  manifest: Buffer;
  digest: string;
  blobs: Map<string, Buffer>;
  weights: string;
}

/** An Ollama-format model (docker v2 manifest, application/vnd.ollama.image.* layers) in memory. */
export function ollamaModel(weightsSize: number, seed = 'weights'): OllamaFixture {
  const weights = Buffer.alloc(weightsSize);
  let h = createHash('sha256').update(seed).digest();
  for (let at = 0; at < weightsSize; at += h.length) {
    h.copy(weights, at);
    h = createHash('sha256').update(h).digest();
  }
  weights.write('GGUF', 0);
  const license = Buffer.from('MIT License\n\nCopyright (c) test\n');
  const template = Buffer.from('{{ .Prompt }}');
  const params = Buffer.from('{"stop":["<|eot|>"]}\n');
  const layers = [
    [MediaType.ollamaModel, weights],
    [MediaType.ollamaTemplate, template],
    [MediaType.ollamaLicense, license],
    [MediaType.ollamaParams, params],
  ] as const;
  const config = Buffer.from(
    JSON.stringify({
      model_format: 'gguf',
      model_family: 'llama',
      model_families: ['llama'],
      model_type: '1.2B',
      file_type: 'Q8_0',
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layers.map(([, b]) => digestOf(b)) },
    }) + '\n',
  );
  const blobs = new Map<string, Buffer>([[digestOf(config), config]]);
  for (const [, b] of layers) blobs.set(digestOf(b), b);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { mediaType: MediaType.dockerConfig, digest: digestOf(config), size: config.length },
      layers: layers.map(([mediaType, b]) => ({ mediaType, digest: digestOf(b), size: b.length })),
    }) + '\n',
  );
  return { manifest, digest: digestOf(manifest), blobs, weights: digestOf(weights) };
}

export async function pushOllamaModel(base: string, repo: string, tag: string, model: OllamaFixture) {
  for (const data of model.blobs.values()) await pushBlob(base, repo, data);
  return pushManifest(base, repo, tag, model.manifest, MediaType.dockerManifest);
}

/** Pushes a chart archive as `helm push` lays it out: config = Chart.yaml as JSON, one content layer. */
export async function pushHelmChart(base: string, repo: string, tag: string, tgz: Buffer, chartJson: object) {
  const config = Buffer.from(JSON.stringify(chartJson));
  await pushBlob(base, repo, config);
  await pushBlob(base, repo, tgz);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.helmConfig, digest: digestOf(config), size: config.length },
      layers: [{ mediaType: MediaType.helmChart, digest: digestOf(tgz), size: tgz.length }],
      annotations: { 'org.opencontainers.image.title': (chartJson as { name: string }).name },
    }),
  );
  return pushManifest(base, repo, tag, manifest, MediaType.ociManifest);
}
