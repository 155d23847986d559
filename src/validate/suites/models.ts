/**
 * `models`: every model of the bundle is in each Ollama store and on each Ollama endpoint. In a
 * store every blob is re-hashed (Ollama never re-checks blobs on disk: src/models/verify.ts) and the
 * manifest must be the bundle's, byte for byte; on an endpoint the model must be listed and its
 * weights present (Ollama rebuilds manifests on /api/create, so digests may differ there).
 * `--smoke` asks each endpoint for one short completion per model and reports the latency.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { formatBytes } from '../../lib/progress.js';
import { MediaType } from '../../oci/media-types.js';
import { verifyOllamaStore, type ModelCheck } from '../../models/verify.js';
import { OllamaRefusedError, type ListedModel, type OllamaClient } from '../../ollama/client.js';
import { parseOllamaRef, shortName, versionTag } from '../../ollama/names.js';
import type { InstallArtifact } from '../../install/types.js';
import type { Suite, ValidationContext } from '../context.js';
import { fail, pass, skip, warn, type Check, type Outcome } from '../types.js';

const WEIGHT_LAYERS: ReadonlySet<string> = new Set([
  MediaType.ollamaModel,
  MediaType.ollamaAdapter,
  MediaType.ollamaProjector,
]);
const SMOKE_PROMPT = 'Reply with the single word OK.';

const storeName = (ref: string, tag?: string) => {
  const n = parseOllamaRef(ref);
  return `${n.host}/${n.namespace}/${n.model}:${tag ?? n.tag}`;
};

/** One re-hash of each store, shared by its models' checks (each blob hashed once). */
function storeVerifier(ctx: ValidationContext, store: string, models: InstallArtifact[]) {
  let p: Promise<ModelCheck[]> | undefined;
  return (signal: AbortSignal) =>
    (p ??= verifyOllamaStore(store, {
      names: models.flatMap((m) => [
        storeName(m.ref),
        storeName(m.ref, versionTag(parseOllamaRef(m.ref).tag, m.root.digest)),
      ]),
      concurrency: ctx.inputs.hashConcurrency,
      signal,
    }));
}

async function inStore(
  ctx: ValidationContext,
  store: string,
  m: InstallArtifact,
  checks: () => Promise<ModelCheck[]>,
): Promise<Outcome> {
  const exists = await stat(store).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!exists)
    return fail(
      `${store} is not a directory`,
      'pass the Ollama models directory (OLLAMA_MODELS) with {flag:ollama-store}',
    );
  const all = await checks();
  const name = storeName(m.ref);
  const short = shortName(parseOllamaRef(m.ref));
  const c = all.find((x) => x.name === name);
  if (!c)
    return fail(
      `${short} is not in ${store}`,
      `kubechat install ${ctx.inputs.bundlePath ?? 'BUNDLE'} --ollama-store ${store}`,
    );
  if (c.parseError)
    return fail(
      `${c.manifestPath} does not parse: ${c.parseError}`,
      'run kubechat install again: it rewrites the manifest',
    );
  const data = { manifestDigest: c.manifestDigest, blobs: c.blobs, bytes: c.bytes };
  if (c.manifestDigest !== m.root.digest)
    return fail(
      `${short} in ${store} is manifest ${c.manifestDigest}, the bundle has ${m.root.digest}`,
      'run kubechat install again (it restores the bundle’s manifest), or validate the bundle that was installed',
      { data },
    );
  if (c.problems.length) {
    const details = c.problems.map((p) =>
      p.problem === 'missing'
        ? `missing: ${p.path}`
        : p.problem === 'size'
          ? `wrong size: ${p.path} has ${p.actualSize} bytes, the manifest says ${p.expectedSize}`
          : `corrupt: ${p.path} hashes to ${p.actualDigest}`,
    );
    return fail(
      `${short}: ${c.problems.length} of ${c.blobs} blobs bad (${details[0]})`,
      'delete the bad blob files and run kubechat install again',
      {
        details,
        data,
      },
    );
  }
  const version = storeName(m.ref, versionTag(parseOllamaRef(m.ref).tag, m.root.digest));
  if (!all.some((x) => x.name === version))
    return warn(
      `${short}: ${c.blobs} blobs re-hashed (${formatBytes(c.bytes)}), but its version tag ${version.split(':').pop()} is missing`,
      'run kubechat install again: rollback needs the version tag',
      { data },
    );
  return pass(`${short}: manifest is the bundle's, ${c.blobs} blobs re-hashed (${formatBytes(c.bytes)})`, {
    data,
  });
}

function tagsOf(client: OllamaClient, url: string) {
  let p: Promise<ListedModel[]> | undefined;
  return () =>
    (p ??= client.list().catch((err: unknown) => {
      if (err instanceof OllamaRefusedError) throw new Error(`${url}/api/tags answered HTTP ${err.status}`);
      throw err;
    }));
}

async function onEndpoint(
  client: OllamaClient,
  url: string,
  m: InstallArtifact,
  tags: () => Promise<ListedModel[]>,
): Promise<Outcome> {
  const short = shortName(parseOllamaRef(m.ref));
  const listed = (await tags()).find((t) => t.name === short || t.model === short);
  if (!listed) return fail(`${short} is not listed by ${url}`, `kubechat install BUNDLE --ollama ${url}`);
  const digest = listed.digest ? `sha256:${listed.digest.replace(/^sha256:/, '')}` : null;
  const data = { digest, bundleDigest: m.root.digest };
  if (digest === m.root.digest) return pass(`${short} on ${url}: the bundle's manifest`, { data });
  const missing: string[] = [];
  for (const b of m.blobs.filter((x) => WEIGHT_LAYERS.has(x.mediaType)))
    if (!(await client.hasBlob(b.digest))) missing.push(b.digest);
  if (missing.length)
    return fail(
      `${short} on ${url}: its weights ${missing[0]} are not on the server`,
      `kubechat install BUNDLE --ollama ${url}`,
      {
        details: missing.map((d) => `missing blob ${d}`),
        data,
      },
    );
  return pass(
    `${short} on ${url} with the bundle's weights (Ollama rebuilt the manifest: ${digest ?? 'no digest'})`,
    { data },
  );
}

async function smoke(client: OllamaClient, url: string, m: InstallArtifact): Promise<Outcome> {
  const short = shortName(parseOllamaRef(m.ref));
  const t0 = performance.now();
  const fix = 'check the Ollama server log on that node (GPU memory, model load errors)';
  let answer;
  try {
    answer = await client.generate({
      model: short,
      prompt: SMOKE_PROMPT,
      options: { num_predict: 8, temperature: 0 },
    });
  } catch (err) {
    if (!(err instanceof OllamaRefusedError)) throw err;
    const data = { latencyMs: Math.round(performance.now() - t0), evalCount: null };
    const why = err.serverMessage ? `: ${err.serverMessage}` : '';
    return fail(`${short} on ${url} did not answer a prompt (HTTP ${err.status}${why})`, fix, { data });
  }
  const latencyMs = Math.round(performance.now() - t0);
  const data = { latencyMs, evalCount: answer.evalCount };
  if (!answer.done) return fail(`${short} on ${url} did not answer a prompt (HTTP 200)`, fix, { data });
  return pass(`${short} on ${url} answered in ${latencyMs} ms`, { data });
}

export const modelsSuite: Suite = {
  name: 'models',
  missing: (i) =>
    !i.ollamaStores?.length && !i.ollamaUrls?.length
      ? 'no --ollama-store or --ollama given'
      : !i.bundlePath
        ? 'no --bundle given: nothing to compare with'
        : undefined,
  async checks(ctx) {
    const models = (await ctx.artifacts()).filter((a) => a.kind === 'model');
    if (!models.length)
      return [{ name: 'models', run: () => Promise.resolve(skip('the bundle holds no models')) }];
    const checks: Check[] = [];
    for (const s of ctx.inputs.ollamaStores ?? []) {
      const store = resolve(s);
      const verified = storeVerifier(ctx, store, models);
      for (const m of models)
        checks.push({
          name: `store ${store} ${shortName(parseOllamaRef(m.ref))}`,
          run: (signal) => inStore(ctx, store, m, () => verified(signal)),
        });
    }
    for (const url of ctx.inputs.ollamaUrls ?? []) {
      const client = ctx.ollamaClient(url);
      const tags = tagsOf(client, url);
      for (const m of models) {
        checks.push({
          name: `endpoint ${url} ${shortName(parseOllamaRef(m.ref))}`,
          run: () => onEndpoint(client, url, m, tags),
        });
        if (ctx.inputs.smoke)
          checks.push({
            name: `smoke ${url} ${shortName(parseOllamaRef(m.ref))}`,
            run: () => smoke(client, url, m),
          });
      }
    }
    return checks;
  },
};
