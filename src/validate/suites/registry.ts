/**
 * `registry`: every image and chart of the bundle is in the registry under its tag with the bundle's
 * manifest digest, every manifest and blob it needs answers HEAD, and the registry's TLS certificate
 * is valid. `--registry oci:DIR` checks an OCI image layout the same way (index.json names, blob
 * files with their sizes).
 */
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { connect, rootCertificates, type PeerCertificate } from 'node:tls';
import { mapLimit } from '../../lib/concurrency.js';
import { blobPath, sha256Digest } from '../../lib/digest.js';
import { Annotation, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from '../../oci/media-types.js';
import { isLoopbackHost } from '../../oci/registry-client.js';
import type { ImageIndex } from '../../oci/types.js';
import { destinationOf } from '../../targets/registry.js';
import type { InstallArtifact } from '../../install/types.js';
import type { Suite, ValidationContext } from '../context.js';
import { fail, pass, skip, warn, type Check, type Outcome } from '../types.js';

/** A certificate that expires sooner than this is a warning. */
const EXPIRY_WARNING_DAYS = 30;
const HEADS_IN_FLIGHT = 8;
const MANIFEST_ACCEPT = [...INDEX_MEDIA_TYPES, ...MANIFEST_MEDIA_TYPES].join(', ');

const layoutDir = (ctx: ValidationContext) => resolve(ctx.inputs.registry!.slice('oci:'.length));
const isLayout = (ctx: ValidationContext) => ctx.inputs.registry!.startsWith('oci:');

/**
 * The registry client once `GET /v2/` has answered: the first exchange settles the scheme and the
 * auth handshake once, so the concurrent HEADs that follow reuse them instead of each probing.
 */
const ready = new WeakMap<ValidationContext, Promise<{ status: number }>>();
function registryReady(ctx: ValidationContext): Promise<{ status: number }> {
  let p = ready.get(ctx);
  if (!p) {
    const host = ctx.inputs.registry!;
    p = ctx.registryClient().then(async (client) => {
      const res = await client.request(host, { method: 'GET', path: '/v2/', what: `${host}/v2/` });
      await res.body.dump();
      return { status: res.status };
    });
    ready.set(ctx, p);
  }
  return p;
}

async function reachable(ctx: ValidationContext): Promise<Outcome> {
  if (isLayout(ctx)) {
    const dir = layoutDir(ctx);
    const layout = await readFile(join(dir, 'oci-layout'), 'utf8').catch(() => undefined);
    if (!layout?.includes('imageLayoutVersion'))
      return fail(
        `${dir} is not an OCI image layout (no oci-layout file)`,
        `check {flag:registry} oci:DIR, or install again`,
      );
    await readIndex(dir);
    return pass(`${dir} is an OCI image layout`);
  }
  const host = ctx.inputs.registry!;
  const { status } = await registryReady(ctx);
  const client = await ctx.registryClient();
  return pass(`${await client.origin(host)} answers the distribution API (HTTP ${status})`);
}

async function readIndex(dir: string): Promise<ImageIndex> {
  const text = await readFile(join(dir, 'index.json'), 'utf8');
  try {
    return JSON.parse(text) as ImageIndex;
  } catch {
    throw new Error(`${join(dir, 'index.json')} is not valid JSON`);
  }
}

function peerCertificate(
  host: string,
  port: number,
  ca: string[] | undefined,
): Promise<{ cert: PeerCertificate; authorized: boolean; error: string | null }> {
  return new Promise((done, reject) => {
    const socket = connect({
      host,
      port,
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      ca,
      rejectUnauthorized: false,
    });
    socket.setTimeout(10_000, () =>
      socket.destroy(new Error(`TLS handshake with ${host}:${port} timed out`)),
    );
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const error = socket.authorizationError ? String(socket.authorizationError) : null;
      done({ cert, authorized: socket.authorized, error });
      socket.end();
    });
    socket.once('error', reject);
  });
}

async function tls(ctx: ValidationContext): Promise<Outcome> {
  if (isLayout(ctx)) return skip('an OCI layout directory is read from disk: no TLS');
  const host = ctx.inputs.registry!;
  const client = await ctx.registryClient();
  const origin = await client.origin(host);
  if (origin.startsWith('http://')) {
    return isLoopbackHost(host)
      ? skip(`plain HTTP on a loopback registry (${host})`)
      : fail(
          `${host} is served over plain HTTP: images travel unauthenticated and unencrypted`,
          'serve the registry with TLS (a certificate from the local CA) and drop {flag:insecure-registry}',
        );
  }
  const url = new URL(origin);
  const port = Number(url.port || 443);
  const ca = ctx.inputs.registryCa
    ? [await readFile(ctx.inputs.registryCa, 'utf8'), ...rootCertificates]
    : undefined;
  const { cert, authorized, error } = await peerCertificate(url.hostname.replace(/^\[|\]$/g, ''), port, ca);
  const validTo = new Date(cert.valid_to);
  const days = Math.floor((validTo.getTime() - ctx.now.getTime()) / 86_400_000);
  const subject = cert.subject?.CN ?? url.hostname;
  const data = { subject, issuer: cert.issuer?.CN ?? null, validTo: validTo.toISOString(), daysLeft: days };
  if (!authorized)
    return fail(
      `${host}: TLS certificate of ${subject} is not valid (${error})`,
      'renew the certificate from the local CA, or pass the CA that signed it with {flag:registry-ca}',
      { data },
    );
  if (days < EXPIRY_WARNING_DAYS)
    return warn(
      `${host}: certificate of ${subject} expires in ${days} day(s) (${data.validTo})`,
      'renew it',
      {
        data,
      },
    );
  return pass(`certificate of ${subject} verified, valid until ${data.validTo}`, { data });
}

/** Every manifest and blob of the artifact, HEAD-ed in its repository. */
async function artifactInRegistry(ctx: ValidationContext, a: InstallArtifact): Promise<Outcome> {
  const host = ctx.inputs.registry!;
  await registryReady(ctx);
  const client = await ctx.registryClient();
  const { repository, tag } = destinationOf(a.ref, ctx.inputs.registryPrefix);
  const where = `${host}/${repository}${tag ? `:${tag}` : ''}`;
  const head = async (kind: 'manifests' | 'blobs', reference: string) => {
    const res = await client.request(host, {
      method: 'HEAD',
      path: `/v2/${repository}/${kind}/${reference}`,
      headers: kind === 'manifests' ? { accept: MANIFEST_ACCEPT } : undefined,
      scope: `repository:${repository}:pull`,
      accept: [404],
      what: `${host}/${repository} ${reference}`,
    });
    await res.body.dump();
    return res;
  };
  const root = await head('manifests', tag ?? a.root.digest);
  if (root.status === 404)
    return fail(`${where} is not in the registry`, 'run kubechat install again (it resumes)');
  const served = root.headers['docker-content-digest'];
  if (served !== a.root.digest)
    return fail(
      `${where} is ${served ?? 'served without a digest'}, the bundle has ${a.root.digest}`,
      'run kubechat install again: the tag was moved or overwritten',
    );
  const wanted = [
    ...a.docs.filter((d) => d.digest !== a.root.digest).map((d) => ['manifests', d.digest] as const),
    ...a.blobs.map((b) => ['blobs', b.digest] as const),
  ];
  const missing = (
    await mapLimit(wanted, HEADS_IN_FLIGHT, async ([kind, digest]) =>
      (await head(kind, digest)).status === 404
        ? `${kind === 'blobs' ? 'blob' : 'manifest'} ${digest}`
        : undefined,
    )
  ).filter((m): m is string => m !== undefined);
  const data = { digest: a.root.digest, manifests: a.docs.length, blobs: a.blobs.length };
  if (missing.length)
    return fail(
      `${where}: ${missing.length} of ${wanted.length + 1} manifests and blobs missing (${missing[0]})`,
      'run kubechat install again: it re-pushes what the registry lost',
      { details: missing, data },
    );
  return pass(`${where} at ${a.root.digest}, ${wanted.length + 1} manifests and blobs present`, { data });
}

async function artifactInLayout(ctx: ValidationContext, a: InstallArtifact): Promise<Outcome> {
  const dir = layoutDir(ctx);
  const index = await readIndex(dir);
  const entry = index.manifests.find((m) => m.annotations?.[Annotation.refName] === a.ref);
  const where = `oci:${dir}:${a.ref}`;
  if (!entry) return fail(`${where} is not in index.json`, 'run kubechat install again (it resumes)');
  if (entry.digest !== a.root.digest)
    return fail(`${where} is ${entry.digest}, the bundle has ${a.root.digest}`, 'run kubechat install again');
  const problems: string[] = [];
  const blobFile = (digest: string) => join(dir, blobPath(digest));
  for (const d of a.docs) {
    // Documents are small: re-hash them, they decide which blobs are used.
    const bytes = await readFile(blobFile(d.digest)).catch(() => undefined);
    if (!bytes) problems.push(`manifest ${d.digest} missing`);
    else if (sha256Digest(bytes) !== d.digest) problems.push(`manifest ${d.digest} corrupt`);
  }
  await mapLimit(a.blobs, HEADS_IN_FLIGHT, async (b) => {
    const s = await stat(blobFile(b.digest)).catch(() => undefined);
    if (!s) problems.push(`blob ${b.digest} missing`);
    else if (s.size !== b.size) problems.push(`blob ${b.digest} has ${s.size} bytes, expected ${b.size}`);
  });
  if (problems.length)
    return fail(`${where}: ${problems.length} problem(s): ${problems[0]}`, 'run kubechat install again', {
      details: problems,
    });
  return pass(`${where} at ${a.root.digest}, ${a.docs.length + a.blobs.length} manifests and blobs present`);
}

export const registrySuite: Suite = {
  name: 'registry',
  missing: (i) =>
    !i.registry
      ? 'no --registry given'
      : !i.bundlePath
        ? 'no --bundle given: nothing to compare with'
        : undefined,
  async checks(ctx) {
    const artifacts = (await ctx.artifacts()).filter((a) => a.kind === 'image' || a.kind === 'chart');
    const checks: Check[] = [
      { name: 'reachable', run: () => reachable(ctx) },
      { name: 'tls', run: () => tls(ctx) },
    ];
    for (const a of artifacts)
      checks.push({
        name: `${a.kind} ${a.ref}`,
        run: () => (isLayout(ctx) ? artifactInLayout(ctx, a) : artifactInRegistry(ctx, a)),
      });
    if (artifacts.length === 0)
      checks.push({
        name: 'artifacts',
        run: () => Promise.resolve(skip('the bundle holds no images or charts')),
      });
    return checks;
  },
};
