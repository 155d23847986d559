/**
 * What the suites validate against, and the resources they share: the opened bundle and its
 * artifacts (read by random access: index.json and the manifests, never the large blobs), one
 * registry client, one Ollama client per --ollama server, one database connection. Each is opened once, on first use, by whichever check
 * gets there first; a failure to open is remembered and reported by every check that needed it.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { blobPath, digestOfBlobPath, Entry } from '../bundle/layout.js';
import { EntryIndex, openBundle, type OpenedBundle } from '../bundle/reader.js';
import { sha256Digest } from '../lib/digest.js';
import { integrityError, networkError } from '../lib/errors.js';
import { silentReporter, type Reporter } from '../lib/progress.js';
import { readAll } from '../lib/streams.js';
import { RegistryClient } from '../oci/registry-client.js';
import { parseRegistryAuthFlag, type Credentials } from '../oci/registry-credentials.js';
import { OllamaClient } from '../ollama/client.js';
import type { TrustedKey } from '../signing/signature.js';
import { ArtifactGraph } from '../install/graph.js';
import type { InstallArtifact } from '../install/types.js';
import type { Database } from '../db/connection.js';
import type { Check, SuiteName } from './types.js';

export interface ValidateInputs {
  /** Bundle file, first part or parts file. */
  bundlePath?: string;
  /** That bundle already opened by the caller (install): read, not opened again. */
  openedBundle?: OpenedBundle;
  /** `HOST[:PORT]` of an OCI registry, or `oci:DIR`. */
  registry?: string;
  registryPrefix?: string;
  registryCa?: string;
  /** `HOST=USER:PASSWORD_ENV` values. */
  registryAuth?: string[];
  /** Hosts allowed over plain HTTP or with an unverified certificate (`--insecure-registry HOST`). */
  insecureRegistry?: string[];
  ollamaStores?: string[];
  ollamaUrls?: string[];
  filesDir?: string;
  /**
   * The database: a URL, the embedded server, or a pool the caller already holds (install). Absent:
   * the database suite is skipped and nothing is recorded.
   */
  database?: { url?: string; embedded?: boolean; pool?: pg.Pool; shown?: string };
  /** Loads the trusted keys (a bad trust directory fails the signature check, not the run). */
  trustedKeys?: () => Promise<TrustedKey[]>;
  allowUnsigned?: boolean;
  allowExpired?: boolean;
  /** `HOST:PORT` targets the airgap suite must not reach; undefined = the default public probes. */
  egressProbes?: string[];
  /** Time allowed for one egress probe (default 3 s): a probe that times out counts as blocked. */
  egressTimeoutMs?: number;
  /** Generate one short completion per model on every --ollama endpoint. */
  smoke?: boolean;
  /**
   * Preflight contacts the targets to see that they answer (default true). `install` turns it off:
   * it reaches its targets itself before reading the bundle, with their own exit codes (10–13, 30).
   */
  checkReachability?: boolean;
  /** `[HOST:]PORT` that must be free to listen on. */
  freePorts?: string[];
  /** Key, certificate and password files whose permissions the security suite checks. */
  secretFiles?: string[];
  /** Hash threads for the models suite (default: the store re-hash's own). */
  hashConcurrency?: number;
  now?: Date;
}

/** A memoised async value whose failure is kept too (each check reports it). */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= make());
}

export class ValidationContext {
  readonly reporter: Reporter;
  readonly #closers: Array<() => Promise<void>> = [];

  constructor(
    readonly inputs: ValidateInputs,
    reporter?: Reporter,
  ) {
    this.reporter = reporter ?? silentReporter;
  }

  get now(): Date {
    return this.inputs.now ?? new Date();
  }

  readonly bundle = once<OpenedBundle>(() =>
    this.inputs.openedBundle
      ? Promise.resolve(this.inputs.openedBundle)
      : openBundle(this.inputs.bundlePath!),
  );

  readonly entryIndex = once(async () => EntryIndex.open(await this.bundle()));

  /**
   * Every image, chart and model of the bundle with its manifests and blobs, learnt from index.json
   * and the manifests the bundle holds (each checked against its digest before it is believed).
   */
  readonly artifacts = once<InstallArtifact[]>(async () => {
    const bundle = await this.bundle();
    const index = await this.entryIndex();
    const listed = new Set(bundle.manifest.contents.map((c) => c.path));
    const has = (digest: string) => listed.has(blobPath(digest)) && index.has(blobPath(digest)) !== false;
    const graph = new ArtifactGraph((d) => listed.has(blobPath(d)), has, bundle.source.name);
    graph.addIndex(await this.readEntry(Entry.index));
    const blobs = bundle.manifest.contents
      .map((c) => digestOfBlobPath(c.path))
      .filter((d): d is string => d !== undefined);
    // Documents name more documents (index → manifests): read until nothing new is wanted.
    for (let progress = true; !graph.complete && progress;) {
      progress = false;
      for (const digest of blobs) {
        if (!graph.wantsDoc(digest)) continue;
        const bytes = await this.readEntry(blobPath(digest));
        if (sha256Digest(bytes) !== digest)
          throw integrityError(
            `${bundle.source.name}: ${blobPath(digest)} does not match its digest`,
            'copy the bundle again from its source',
          );
        graph.addDoc(digest, undefined, bytes);
        progress = true;
      }
    }
    return graph.artifacts;
  });

  async readEntry(path: string): Promise<Buffer> {
    const index = await this.entryIndex();
    return readAll(index.read(path));
  }

  /** The registry client for --registry HOST (with --registry-ca, --registry-auth, --insecure-registry). */
  readonly registryClient = once<RegistryClient>(async () => {
    const { registryCa, registryAuth, insecureRegistry } = this.inputs;
    let ca: Buffer | undefined;
    if (registryCa) {
      try {
        ca = await readFile(registryCa);
      } catch (err) {
        throw networkError(
          `--registry-ca ${registryCa}: cannot read (${(err as Error).message})`,
          'pass the CA certificate PEM file',
          err,
        );
      }
    }
    const credentials = new Map<string, Credentials>(
      (registryAuth ?? []).map((a) => parseRegistryAuthFlag(a)),
    );
    // Validation asks once and reports: a few quick retries, not install's patient ones.
    const client = new RegistryClient({
      ca,
      credentials,
      insecure: insecureRegistry ?? [],
      attempts: 2,
      retryDelayMs: 100,
      timeoutMs: 30_000,
    });
    this.#closers.push(() => client.close());
    return client;
  });

  readonly #ollama = new Map<string, OllamaClient>();

  /** The client for one --ollama server; validation waits at most two minutes for an answer. */
  ollamaClient(url: string): OllamaClient {
    let client = this.#ollama.get(url);
    if (!client) {
      client = new OllamaClient(url, {
        rerun: 'run kubechat validate again',
        connections: 4,
        timeoutMs: 120_000,
      });
      this.#ollama.set(url, client);
      const c = client;
      this.#closers.push(() => c.close());
    }
    return client;
  }

  readonly database = once<{ pool: pg.Pool; url: string; embedded: boolean }>(async () => {
    const d = this.inputs.database!;
    if (d.pool) return { pool: d.pool, url: d.shown ?? 'the install database', embedded: !!d.embedded };
    const { openDatabase } = await import('../db/connection.js');
    const db: Database = await openDatabase({ url: d.embedded ? undefined : d.url, reporter: this.reporter });
    this.#closers.push(() => db.close());
    return { pool: db.pool, url: db.url, embedded: db.embedded };
  });

  async close(): Promise<void> {
    for (const c of this.#closers.splice(0).reverse()) await c().catch(() => undefined);
  }
}

/** One validation suite: when it cannot run, and its checks. */
export interface Suite {
  name: SuiteName;
  /**
   * Why the suite cannot run with these inputs (it is then skipped with this reason). `named`: the
   * operator selected this suite by name (`--suite`), rather than it running as one of all.
   */
  missing(inputs: ValidateInputs, named: boolean): string | undefined;
  /** Its checks. May throw (bundle unreadable…): the suite then reports one failed check. */
  checks(ctx: ValidationContext): Promise<Check[]>;
}
