/**
 * `preflight`: what an install needs before it starts. The clock is sane (the bundle was not created
 * in the future), every target answers or can be written, each target directory's file system has
 * room for the bundle content it does not hold yet, and the ports named with --free-port are free.
 */
import { access, constants, stat, statfs } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { FILES_PREFIX } from '../../bundle/layout.js';
import { blobPath } from '../../lib/digest.js';
import { formatBytes } from '../../lib/progress.js';
import type { Descriptor } from '../../oci/types.js';
import { storeBlobPath } from '../../targets/ollama-store.js';
import type { ArtifactKind } from '../../install/types.js';
import type { Suite, ValidationContext } from '../context.js';
import { OllamaRefusedError } from '../../ollama/client.js';
import { fail, pass, skip, type Check, type Outcome } from '../types.js';

/** Clock skew tolerated between the connected side and this host. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** Room kept free beyond the content itself (journals, temp files): 5% of it, 1–64 MiB. */
const diskMargin = (needed: number) =>
  Math.min(64 * 1024 * 1024, Math.max(1024 * 1024, Math.ceil(needed * 0.05)));

async function clock(ctx: ValidationContext): Promise<Outcome> {
  if (!ctx.inputs.bundlePath) return skip('no --bundle given');
  const { manifest } = await ctx.bundle();
  const created = new Date(manifest.created);
  const ahead = created.getTime() - ctx.now.getTime();
  const data = { created: manifest.created, now: ctx.now.toISOString() };
  if (ahead > CLOCK_SKEW_MS)
    return fail(
      `the bundle was created ${manifest.created}, ${Math.round(ahead / 60_000)} min after this host's clock (${data.now})`,
      "set this host's clock (and its time source): expiry and certificate checks depend on it",
      { data },
    );
  return pass(`bundle created ${manifest.created}, not after this host's clock (${data.now})`, { data });
}

/** The nearest existing directory at or above `path` (a target directory may not exist yet). */
async function existingAncestor(path: string): Promise<string> {
  for (let p = resolve(path); ; p = dirname(p)) {
    if (
      await stat(p).then(
        (s) => s.isDirectory(),
        () => false,
      )
    )
      return p;
    if (dirname(p) === p) return p;
  }
}

interface DiskTarget {
  label: string;
  dir: string;
  /** What the bundle puts there, and where each item lands (to skip what is already there). */
  items: () => Promise<Array<{ path: string; size: number }>>;
}

async function diskTargets(ctx: ValidationContext): Promise<DiskTarget[]> {
  const { registry, ollamaStores, filesDir } = ctx.inputs;
  const blobsOf = async (kinds: ArtifactKind[]) => {
    const seen = new Map<string, Descriptor>();
    for (const a of await ctx.artifacts()) {
      if (!kinds.includes(a.kind)) continue;
      for (const b of a.blobs) seen.set(b.digest, b);
      // A registry or layout stores manifests as blobs too; an Ollama store keeps them under manifests/.
      if (a.kind !== 'model')
        for (const d of a.docs)
          seen.set(d.digest, { digest: d.digest, size: d.bytes.length, mediaType: d.mediaType });
    }
    return [...seen.values()];
  };
  const out: DiskTarget[] = [];
  if (registry?.startsWith('oci:')) {
    const dir = resolve(registry.slice(4));
    out.push({
      label: `oci:${dir}`,
      dir,
      items: async () =>
        (await blobsOf(['image', 'chart'])).map((b) => ({
          path: join(dir, blobPath(b.digest)),
          size: b.size,
        })),
    });
  }
  for (const store of ollamaStores ?? []) {
    const dir = resolve(store);
    out.push({
      label: `Ollama store ${dir}`,
      dir,
      items: async () =>
        (await blobsOf(['model'])).map((b) => ({
          path: storeBlobPath(dir, b.digest),
          size: b.size,
        })),
    });
  }
  if (filesDir) {
    const dir = resolve(filesDir);
    out.push({
      label: `files ${dir}`,
      dir,
      items: async () =>
        (await ctx.bundle()).manifest.contents
          .filter((c) => c.path.startsWith(FILES_PREFIX))
          .map((c) => ({ path: join(dir, c.path.slice(FILES_PREFIX.length)), size: c.size })),
    });
  }
  return out;
}

async function disk(t: DiskTarget): Promise<Outcome> {
  const items = await t.items();
  let needed = 0;
  let present = 0;
  for (const i of items) {
    const s = await stat(i.path).catch(() => undefined);
    if (s?.size === i.size) present += i.size;
    else needed += i.size;
  }
  const at = await existingAncestor(t.dir);
  const fs = await statfs(at);
  const free = Number(fs.bavail) * Number(fs.bsize);
  const margin = needed > 0 ? diskMargin(needed) : 0;
  const data = { needed, alreadyThere: present, free, at };
  if (needed + margin > free)
    return fail(
      `${t.label} needs ${formatBytes(needed)} (+${formatBytes(margin)} margin), ${at} has ${formatBytes(free)} free`,
      `free ${formatBytes(needed + margin - free)} on the file system holding ${at}, or choose another target`,
      { data },
    );
  return pass(
    `${t.label}: ${formatBytes(needed)} to write${present ? ` (${formatBytes(present)} already there)` : ''}, ${formatBytes(free)} free`,
    { data },
  );
}

async function writableDir(label: string, dir: string): Promise<Outcome> {
  const at = await existingAncestor(dir);
  const s = await stat(resolve(dir)).catch(() => undefined);
  if (s && !s.isDirectory()) return fail(`${label}: ${dir} is not a directory`, 'pass a directory');
  try {
    await access(at, constants.W_OK | constants.X_OK);
  } catch {
    return fail(
      `${label}: ${at} is not writable by this user`,
      `run as a user that can write ${at}, or fix its permissions`,
    );
  }
  return pass(s ? `${label}: ${dir} exists and is writable` : `${label}: ${dir} can be created under ${at}`);
}

async function ollamaAnswers(ctx: ValidationContext, url: string): Promise<Outcome> {
  let version: string;
  try {
    version = await ctx.ollamaClient(url).version();
  } catch (err) {
    if (!(err instanceof OllamaRefusedError)) throw err;
    return fail(
      `${url}/api/version answered HTTP ${err.status}`,
      'check that the address is an Ollama server',
    );
  }
  if (!version)
    return fail(
      `${url}/api/version answered HTTP 200 without a version`,
      'check that the address is an Ollama server',
    );
  return pass(`Ollama ${version} answers at ${url}`);
}

function reachableChecks(ctx: ValidationContext): Check[] {
  const { registry, ollamaStores, ollamaUrls, filesDir, database } = ctx.inputs;
  const checks: Check[] = [];
  if (registry?.startsWith('oci:'))
    checks.push({
      name: `target oci:${registry.slice(4)}`,
      run: () => writableDir('OCI layout', registry.slice(4)),
    });
  else if (registry)
    checks.push({
      name: `target ${registry}`,
      run: async () => {
        const client = await ctx.registryClient();
        const res = await client.request(registry, { method: 'GET', path: '/v2/', what: `${registry}/v2/` });
        await res.body.dump();
        return pass(`${await client.origin(registry)} answers the distribution API`);
      },
    });
  for (const s of ollamaStores ?? [])
    checks.push({ name: `target ${s}`, run: () => writableDir('Ollama store', s) });
  for (const u of ollamaUrls ?? []) checks.push({ name: `target ${u}`, run: () => ollamaAnswers(ctx, u) });
  if (filesDir)
    checks.push({ name: `target ${filesDir}`, run: () => writableDir('files directory', filesDir) });
  if (database)
    checks.push({
      name: 'target database',
      run: async () => {
        const db = await ctx.database();
        await db.pool.query('SELECT 1');
        return pass(`${db.url} accepts connections`);
      },
    });
  return checks;
}

/** `[HOST:]PORT`: binds it and lets it go at once. */
function portFree(spec: string): Promise<Outcome> {
  const m = /^(?:(.+):)?(\d{1,5})$/.exec(spec);
  const host = m?.[1]?.replace(/^\[|\]$/g, '') ?? '0.0.0.0';
  const port = Number(m?.[2]);
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) =>
      done(
        err.code === 'EADDRINUSE'
          ? fail(
              `${host}:${port} is in use`,
              `stop what listens on ${port} (ss -ltnp 'sport = :${port}') or choose another port`,
            )
          : fail(
              `cannot listen on ${host}:${port} (${err.code ?? err.message})`,
              'choose a port and address of this host',
            ),
      ),
    );
    server.listen({ host, port, exclusive: true }, () =>
      server.close(() => done(pass(`${host}:${port} is free`))),
    );
  });
}

export const preflightSuite: Suite = {
  name: 'preflight',
  missing: (i) =>
    i.bundlePath ||
    i.registry ||
    i.ollamaStores?.length ||
    i.ollamaUrls?.length ||
    i.filesDir ||
    i.database ||
    i.freePorts?.length
      ? undefined
      : 'no --bundle, target or --free-port given',
  async checks(ctx) {
    const checks: Check[] = [{ name: 'clock', run: () => clock(ctx) }];
    if (ctx.inputs.bundlePath) {
      for (const t of await diskTargets(ctx)) checks.push({ name: `disk ${t.label}`, run: () => disk(t) });
      if (ctx.inputs.registry && !ctx.inputs.registry.startsWith('oci:'))
        checks.push({
          name: `disk ${ctx.inputs.registry}`,
          run: () =>
            Promise.resolve(skip('a registry over the network: its free space is not visible from here')),
        });
    }
    if (ctx.inputs.checkReachability !== false) checks.push(...reachableChecks(ctx));
    for (const p of ctx.inputs.freePorts ?? []) checks.push({ name: `port ${p}`, run: () => portFree(p) });
    return checks;
  },
};
