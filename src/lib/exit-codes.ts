/**
 * The exit-code table: the one place a code, its name and its meaning are written. `ExitCode`
 * (src/lib/errors.ts), the "Exit codes:" line of every command's help, docs/exit-codes.md and the
 * README's table are generated from it (`npm run docs:exit-codes`; a unit test fails when they are stale).
 *
 * Codes come in ranges of ten, one per area, so a script can tell the area from the code alone and a
 * new code lands next to its neighbours. A range no code uses yet is reserved for the work named in it.
 */

/** A range of codes and what it is for. */
export interface ExitCodeRange {
  readonly id: string;
  readonly from: number;
  readonly to: number;
  /** What the range is for (Markdown). */
  readonly title: string;
  /** Set while no code of the range exists: the work it is kept for (Markdown). */
  readonly reservedFor?: string;
}

/** One exit code. `name` is `ExitCode`'s key and the `kind` of a `--json` error. */
export interface ExitCodeEntry {
  readonly name: string;
  readonly code: number;
  readonly range: ExitCodeRangeId;
  /** One line of plain text for the "Exit codes:" list in every command's help. */
  readonly help: string;
  /** The full meaning, for docs/exit-codes.md and the README (Markdown). */
  readonly meaning: string;
  /** What to try next (Markdown). */
  readonly fix?: string;
}

export const EXIT_CODE_RANGES = [
  { id: 'general', from: 0, to: 9, title: 'any command: usage, specs, sources, bundle files, keys, output' },
  { id: 'servers', from: 10, to: 19, title: 'servers, downloads, charts and the content cache' },
  {
    id: 'trust',
    from: 20,
    to: 29,
    title: 'signing and trust: one code per refusal, so scripts can tell them apart',
  },
  { id: 'install', from: 30, to: 39, title: '`install` and `registry serve`' },
  { id: 'database', from: 40, to: 49, title: 'the database (`db`, and every command given a database)' },
  { id: 'models', from: 50, to: 59, title: '`kubechat models`' },
  { id: 'ca', from: 60, to: 69, title: 'the local CA and admin credentials (`ca`, `admin`)' },
  {
    id: 'validate',
    from: 70,
    to: 79,
    title:
      '`kubechat validate`: the outcome of the checks (a run that cannot start exits 1, 2 or 8 like any command)',
  },
  {
    id: 'deploy',
    from: 80,
    to: 89,
    title: 'the Kubernetes deploy',
    reservedFor: '`kubechat deploy` (and `install --kubeconfig`): Kubernetes apply, wait, prune, rollback',
  },
  {
    id: 'docs',
    from: 90,
    to: 99,
    title: 'the offline documentation',
    reservedFor: '`kubechat docs`: the offline documentation index, search and server',
  },
  { id: 'signal', from: 128, to: 255, title: 'ended by a signal (128 + the signal number)' },
] as const satisfies readonly ExitCodeRange[];

export type ExitCodeRangeId = (typeof EXIT_CODE_RANGES)[number]['id'];

export const EXIT_CODES = [
  { name: 'ok', code: 0, range: 'general', help: 'ok', meaning: 'success' },
  {
    name: 'internal',
    code: 1,
    range: 'general',
    help: 'internal error (a bug)',
    meaning: 'internal error (a bug: rerun with `DEBUG=kubechat` and report it)',
  },
  {
    name: 'usage',
    code: 2,
    range: 'general',
    help: 'usage',
    meaning: 'usage: unknown flag, missing argument',
    fix: '`kubechat help <command>`',
  },
  {
    name: 'spec',
    code: 3,
    range: 'general',
    help: 'bad spec or flag value',
    meaning: 'bad bundle spec: schema violation, unknown field, bad image reference, bad `--split`',
    fix: 'fix the spec / flag named in the message',
  },
  {
    name: 'source',
    code: 4,
    range: 'general',
    help: 'bad or missing source',
    meaning: 'a source is missing, unreadable or malformed: OCI layout, GGUF, chart, files',
    fix: 'fix or recreate the file named in the message',
  },
  {
    name: 'bundleFormat',
    code: 5,
    range: 'general',
    help: 'unreadable or truncated bundle',
    meaning:
      'the bundle cannot be read: not zstd/tar, truncated, corrupt frames, bad manifest, missing part; or it holds an entry no kubechat bundle has (a link, device, unsafe or duplicate path: see Bundle format)',
    fix: 'copy the bundle again from its source; do not install a bundle with unsafe entries',
  },
  {
    name: 'integrity',
    code: 6,
    range: 'general',
    help: 'integrity failure (an entry differs from the manifest)',
    meaning:
      "integrity: an entry's sha256 or size differs from the manifest; missing or extra entries; a split part that does not match the parts file; a delta's wrong base",
    fix: 'copy the bundle (or the part) again; pass the right base',
  },
  {
    name: 'signature',
    code: 7,
    range: 'general',
    help: 'key file missing or corrupt',
    meaning:
      'a key file (private, public, trusted) or the trust directory is missing, corrupt, not an Ed25519 key, or writable by others',
    fix: 'restore the key file, or `chmod go-w` the trust directory',
  },
  {
    name: 'output',
    code: 8,
    range: 'general',
    help: 'output not writable (disk full, permissions)',
    meaning: 'the output cannot be written: disk full, permission denied, read-only file system',
    fix: 'free space or choose another `-o DIR`',
  },
  {
    name: 'network',
    code: 10,
    range: 'servers',
    help: 'server unreachable (connection, TLS)',
    meaning:
      'a server (registry, Ollama, chart repository) cannot be reached: connection refused or reset, DNS, TLS verification, timeout',
    fix: 'check the address, that the server runs, and `--registry-ca` / `--insecure-registry`',
  },
  {
    name: 'auth',
    code: 11,
    range: 'servers',
    help: 'credentials refused',
    meaning: 'the server refused the credentials, or wants credentials that were not given',
    fix: '`--registry-auth HOST=USER:PASS_ENV`, or log in so `~/.docker/config.json` / `$REGISTRY_AUTH_FILE` has them',
  },
  {
    name: 'notFound',
    code: 12,
    range: 'servers',
    help: 'not found on the server',
    meaning: 'the server does not have the image, tag, blob, chart version or model',
    fix: 'check the name and tag',
  },
  {
    name: 'protocol',
    code: 13,
    range: 'servers',
    help: 'server answered out of protocol',
    meaning: 'the server answered outside its protocol (unexpected status, bad JSON, wrong digest header)',
    fix: 'check that the address is really a registry / Ollama server',
  },
  {
    name: 'upstreamDigest',
    code: 14,
    range: 'servers',
    help: 'upstream content does not match its digest',
    meaning:
      "upstream content does not match its digest: a registry blob or manifest, or a chart archive vs its repository's `index.yaml`; nothing is cached or written",
    fix: 'retry; if it persists, the registry, mirror or proxy serves altered content',
  },
  {
    name: 'platform',
    code: 15,
    range: 'servers',
    help: 'requested platform not in the image',
    meaning: "a platform in `spec.platforms` is not among the image's platforms (the message lists them)",
    fix: 'change `spec.platforms`, or use an image built for it',
  },
  {
    name: 'transfer',
    code: 16,
    range: 'servers',
    help: 'download interrupted and not resumable',
    meaning:
      'a download kept breaking off after every retry and `Range` resume; the partial download stays in the cache',
    fix: 'run the command again: it resumes where it stopped',
  },
  {
    name: 'chartRepo',
    code: 17,
    range: 'servers',
    help: 'bad chart repository index or chart archive',
    meaning:
      "a chart repository's `index.yaml` is unusable (bad YAML, no sha256 digest for the chart) or a chart archive is malformed",
    fix: 'fix the repository or vendor the chart with `path:`',
  },
  {
    name: 'chartDependency',
    code: 18,
    range: 'servers',
    help: 'chart dependency unresolvable',
    meaning:
      'a chart dependency (`Chart.yaml` dependencies) cannot be resolved or vendored, or names a Helm repository alias that `repositories.yaml` lacks',
    fix: 'pin a version the repository has, `helm repo add NAME URL`, or run `helm dependency build`',
  },
  {
    name: 'cache',
    code: 19,
    range: 'servers',
    help: 'bad cache flag or cache directory',
    meaning: 'bad cache flag (`--max-size`, `--older-than`) or unusable cache directory',
    fix: 'fix the flag value / `KUBECHAT_CACHE_DIR`',
  },
  {
    name: 'unsigned',
    code: 20,
    range: 'trust',
    help: 'unsigned bundle',
    meaning: 'the bundle is not signed (install; `verify --require-signature`)',
    fix: 'sign it (`bundle sign`) or pass `--allow-unsigned` knowingly',
  },
  {
    name: 'untrustedSigner',
    code: 21,
    range: 'trust',
    help: 'signer not trusted',
    meaning: "the signer's key is not trusted",
    fix: '`kubechat keys trust KEY.pub` after checking its key id with the publisher',
  },
  {
    name: 'badSignature',
    code: 22,
    range: 'trust',
    help: 'signature does not verify',
    meaning: 'the signature does not verify with the trusted key it names',
    fix: 'do not install: the signature or statement was altered',
  },
  {
    name: 'manifestTampered',
    code: 23,
    range: 'trust',
    help: 'manifest changed after signing',
    meaning: 'the manifest was changed after signing',
    fix: 'do not install: copy the bundle again from the signed original',
  },
  {
    name: 'foreignStatement',
    code: 24,
    range: 'trust',
    help: 'signature is for another bundle',
    meaning: 'the signature is for another bundle (name, version or digest)',
    fix: 'do not install: the signature was swapped',
  },
  {
    name: 'payloadType',
    code: 25,
    range: 'trust',
    help: 'wrong DSSE payloadType',
    meaning: 'the DSSE payloadType is not `application/vnd.in-toto+json`',
    fix: 'do not install: the envelope was altered',
  },
  {
    name: 'signatureCount',
    code: 26,
    range: 'trust',
    help: 'not exactly one signature',
    meaning: 'the envelope does not hold exactly one signature',
    fix: 'do not install, or re-sign with `bundle sign --replace`',
  },
  {
    name: 'expired',
    code: 27,
    range: 'trust',
    help: 'bundle expired',
    meaning: 'the bundle has expired',
    fix: 'get a fresh bundle, or pass `--allow-expired` knowingly',
  },
  {
    name: 'downgrade',
    code: 28,
    range: 'trust',
    help: 'older than the installed version',
    meaning:
      'the bundle is older than the version installed (rollback), or the installed-versions state is unreadable',
    fix: 'install a newer bundle, or pass `--allow-downgrade` knowingly',
  },
  {
    name: 'passphrase',
    code: 29,
    range: 'trust',
    help: 'wrong or missing passphrase',
    meaning: "the private key's passphrase is wrong or missing (`KUBECHAT_KEY_PASSPHRASE`)",
    fix: 'set the right passphrase',
  },
  {
    name: 'target',
    code: 30,
    range: 'install',
    help: 'an install target failed or refused a write (registry, Ollama, directory)',
    meaning:
      'an install target failed or refused a write: a registry that rejects an upload or manifest, Ollama refusing a blob or `/api/create`, a target directory that is full or not writable',
    fix: 'free space / fix permissions on the target, then run `install` again (it resumes)',
  },
  {
    name: 'journal',
    code: 31,
    range: 'install',
    help: 'install journal unreadable or unwritable',
    meaning: 'the install journal cannot be read or written',
    fix: 'free space or set `KUBECHAT_STATE_DIR` to a writable directory',
  },
  {
    name: 'baseMissing',
    code: 32,
    range: 'install',
    help: 'a delta needs content its base should have installed',
    meaning: 'a delta bundle needs content its base should have installed, and the target does not have it',
    fix: 'install the base bundle first, or install a full bundle',
  },
  {
    name: 'preflight',
    code: 33,
    range: 'install',
    help: 'install preflight failed (nothing written)',
    meaning:
      '`install`: the preflight suite failed (bundle created in the future, a target directory without room or not writable); nothing was written',
    fix: 'the fix printed with it; `kubechat validate --suite preflight` for every check, or `--no-validate` knowingly',
  },
  {
    name: 'postValidation',
    code: 34,
    range: 'install',
    help: 'post-install validation failed',
    meaning:
      '`install`: the bundle was installed, but post-install validation failed (a blob that does not hash to its digest, a tag at another digest, a deployment not recorded)',
    fix: 'the fix printed with it (often: delete the bad blob and install again); `kubechat validate` for the report',
  },
  {
    name: 'serveAddress',
    code: 35,
    range: 'install',
    help: 'registry serve: cannot listen on --addr',
    meaning:
      '`registry serve` cannot listen on `--addr`: address in use, not an address of this host, privileged port',
    fix: 'stop what listens there or choose another `--addr`',
  },
  {
    name: 'serveTls',
    code: 36,
    range: 'install',
    help: 'registry serve: bad TLS certificate or key',
    meaning: '`registry serve` TLS certificate or key unreadable, not PEM, encrypted, or not a pair',
    fix: 'pass the PEM certificate and its unencrypted key',
  },
  {
    name: 'serveContent',
    code: 37,
    range: 'install',
    help: 'registry serve: nothing servable (delta bundle, no seek table, not an OCI layout)',
    meaning:
      '`registry serve` cannot serve it in place: a delta bundle, a bundle without seek table (recompressed), a directory that is not an OCI layout',
    fix: '`bundle merge` the delta; serve the extracted layout as `oci:DIR`',
  },
  {
    name: 'serveAuth',
    code: 38,
    range: 'install',
    help: 'registry serve: --htpasswd file unreadable or not bcrypt, or basic auth without TLS off loopback',
    meaning:
      '`registry serve --htpasswd`: the file is unreadable, empty or has an entry that is not bcrypt; or basic auth on a non-loopback address without TLS',
    fix: '`htpasswd -B` entries; add `--tls-cert`/`--tls-key`',
  },
  {
    name: 'dbUnreachable',
    code: 40,
    range: 'database',
    help: 'database unreachable',
    meaning: 'the database cannot be reached: connection refused, unknown host, timeout',
    fix: 'start PostgreSQL or correct host/port in `--database-url`',
  },
  {
    name: 'dbAuth',
    code: 41,
    range: 'database',
    help: 'database login refused',
    meaning: 'the database refused the login (wrong password, pg_hba)',
    fix: 'correct the password in `--database-url` / `KUBECHAT_DATABASE_URL`',
  },
  {
    name: 'dbMissing',
    code: 42,
    range: 'database',
    help: 'database does not exist',
    meaning: 'the database named in the URL does not exist',
    fix: '`createdb …` or correct the name',
  },
  {
    name: 'dbDrift',
    code: 43,
    range: 'database',
    help: 'schema drift (an applied migration changed or is unknown)',
    meaning:
      'schema drift: an applied migration changed, is unknown to this kubechat, or a pending one is older than an applied one',
    fix: 'restore the matching migrations / kubechat; `kubechat db status` shows which',
  },
  {
    name: 'dbNewer',
    code: 44,
    range: 'database',
    help: 'database schema newer than this kubechat',
    meaning: 'the database schema is newer than this kubechat',
    fix: 'upgrade kubechat on this host',
  },
  {
    name: 'dbPending',
    code: 45,
    range: 'database',
    help: 'migrations pending',
    meaning: 'migrations are pending (`db status`), or the database was never migrated',
    fix: '`kubechat db migrate`',
  },
  {
    name: 'dbMigration',
    code: 46,
    range: 'database',
    help: 'a migration failed (rolled back)',
    meaning: 'a migration failed; it was rolled back, earlier ones stay applied',
    fix: 'fix the cause named in the message and run `db migrate` again',
  },
  {
    name: 'dbLocked',
    code: 47,
    range: 'database',
    help: 'migration lock busy',
    meaning: 'another migration run holds the lock past `--lock-timeout`',
    fix: 'wait, raise `--lock-timeout`, or end the session named',
  },
  {
    name: 'dbEmbedded',
    code: 48,
    range: 'database',
    help: 'embedded PostgreSQL could not start',
    meaning:
      'the embedded PostgreSQL could not start (already running, directory unreachable for the postgres user, initdb failed)',
    fix: 'see `$KUBECHAT_HOME/postgres/postgres.log`, or pass `--database-url`',
  },
  {
    name: 'dbQuery',
    code: 49,
    range: 'database',
    help: 'database query failed',
    meaning: 'a database query failed',
    fix: 'see the server log',
  },
  {
    name: 'modelsPartial',
    code: 50,
    range: 'models',
    help: 'models: done on some nodes, failed on others (the summary names them)',
    meaning:
      '`models`: done on some nodes, failed on others (each failed node is named on stderr and in `failed`)',
    fix: 'bring the failed nodes back and run the command again for them',
  },
  {
    name: 'modelNotFound',
    code: 51,
    range: 'models',
    help: 'model not found',
    meaning: '`models`: no such model (on any node, or in the bundle for `import --model`)',
    fix: "`kubechat models list`, or name one of the bundle's models",
  },
  {
    name: 'modelCorrupt',
    code: 52,
    range: 'models',
    help: 'models verify: missing or corrupt blobs',
    meaning: '`models verify`: missing, truncated or corrupt blobs, or unreadable manifests',
    fix: '`models verify --repair BUNDLE` with a bundle holding those models',
  },
  {
    name: 'modelVersion',
    code: 53,
    range: 'models',
    help: 'no such model version to roll back to',
    meaning: '`models rollback`: no version before the current one, or `--to` matches none or several',
    fix: '`kubechat models history NAME` and pick one',
  },
  {
    name: 'modelPlacement',
    code: 54,
    range: 'models',
    help: 'models plan: some models fit on no node',
    meaning: '`models plan`: some models fit on no node',
    fix: 'add GPU memory or nodes, or plan fewer models',
  },
  {
    name: 'modelBench',
    code: 55,
    range: 'models',
    help: 'models bench: requests failed',
    meaning: '`models bench`: some requests failed',
    fix: 'see the errors and the Ollama server log',
  },
  {
    name: 'modelNodeKind',
    code: 56,
    range: 'models',
    help: 'the operation needs an Ollama server (--ollama) or a models directory (--ollama-store)',
    meaning:
      '`models`: the operation needs an Ollama server (`load`, `unload`, `bench`) or a models directory (`verify`)',
    fix: 'pass `--ollama URL` or `--ollama-store DIR`',
  },
  {
    name: 'caMissing',
    code: 60,
    range: 'ca',
    help: 'no CA in the CA directory (run ca init)',
    meaning: 'no CA in the CA directory',
    fix: '`kubechat ca init`, or point `--dir` / `KUBECHAT_CA_DIR` at the CA',
  },
  {
    name: 'caPassphrase',
    code: 61,
    range: 'ca',
    help: 'CA passphrase wrong or missing, or the root key is offline',
    meaning: 'CA passphrase missing, wrong or too short, or the root key is offline',
    fix: 'set `KUBECHAT_CA_PASSPHRASE` (or `_FILE`); pass `--root-key FILE`',
  },
  {
    name: 'caExpired',
    code: 62,
    range: 'ca',
    help: 'a CA certificate (root or intermediate) expired or not yet valid',
    meaning: 'the root or intermediate CA certificate has expired (or is not yet valid)',
    fix: '`kubechat ca rotate-intermediate`; check the clock',
  },
  {
    name: 'caConstraint',
    code: 63,
    range: 'ca',
    help: 'a name outside the CA name constraints or not a valid DNS name/IP',
    meaning:
      "a name outside the CA's name constraints, not a valid DNS name / IP / CIDR, or a bad certificate name",
    fix: 'issue names the CA permits, or create a CA that permits them',
  },
  {
    name: 'caState',
    code: 64,
    range: 'ca',
    help: 'CA directory damaged or inconsistent',
    meaning:
      'the CA directory is damaged: `ca.json` unreadable, a key that does not match its certificate, or another `ca` command holds the lock',
    fix: 'restore the CA directory from its backup; wait for the other command',
  },
  {
    name: 'renewalDue',
    code: 65,
    range: 'ca',
    help: 'ca renew --check: certificates need renewal',
    meaning: '`ca renew --check`: certificates need renewal',
    fix: '`kubechat ca renew`',
  },
  {
    name: 'certNotFound',
    code: 66,
    range: 'ca',
    help: 'no such certificate (or revoked)',
    meaning: 'no such certificate, or it is already revoked',
    fix: '`kubechat ca list` shows the names',
  },
  {
    name: 'passwordPolicy',
    code: 67,
    range: 'ca',
    help: 'password does not meet the policy',
    meaning: 'the password does not meet the policy (the message names the rules, never the password)',
    fix: 'choose a longer password mixing character classes',
  },
  {
    name: 'adminState',
    code: 68,
    range: 'ca',
    help: 'admin user missing (or already initialised)',
    meaning: 'the admin user already exists (`admin init`) or does not exist (`admin set-password`)',
    fix: '`admin set-password` / `admin init`',
  },
  {
    name: 'caExists',
    code: 69,
    range: 'ca',
    help: 'CA or certificate already exists',
    meaning: 'a CA already exists in the directory, or a certificate of that name is already issued',
    fix: 'use it; `ca renew NAME` or `ca revoke NAME`',
  },
  {
    name: 'validateFailed',
    code: 70,
    range: 'validate',
    help: 'validate: a check failed',
    meaning:
      '`validate`: at least one check failed; bundles, servers and databases that cannot be read are failed checks here, not their usual codes',
    fix: 'the fix printed with each failed check; `--json` or `--junit FILE` for the whole report',
  },
  {
    name: 'validateWarned',
    code: 71,
    range: 'validate',
    help: 'validate --fail-on warn: warnings but no failure',
    meaning: '`validate --fail-on warn`: no check failed, but some warned',
    fix: 'the fix printed with each warning, or leave out `--fail-on warn`',
  },
  {
    name: 'interrupted',
    code: 130,
    range: 'signal',
    help: 'interrupted (partial output removed)',
    meaning: 'interrupted by SIGINT (Ctrl-C); partial output was removed',
    fix: 'run the command again',
  },
  {
    name: 'terminated',
    code: 143,
    range: 'signal',
    help: 'interrupted (partial output removed)',
    meaning: 'stopped by SIGTERM; partial output was removed',
    fix: 'run the command again',
  },
] as const satisfies readonly ExitCodeEntry[];

type Entry = (typeof EXIT_CODES)[number];

/** Name → code, generated from the table (errors.ts re-exports it). */
export const ExitCode = Object.fromEntries(EXIT_CODES.map((e) => [e.name, e.code])) as {
  readonly [E in Entry as E['name']]: E['code'];
};

/**
 * The "Exit codes:" line appended to every command's help. Neighbours with the same help text share
 * one item ("130/143 interrupted").
 */
export const EXIT_CODES_HELP = exitCodesHelp(EXIT_CODES);

function exitCodesHelp(entries: readonly ExitCodeEntry[]): string {
  const items: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const codes = [entries[i]!.code];
    while (entries[i + 1]?.help === entries[i]!.help) codes.push(entries[++i]!.code);
    items.push(`${codes.join('/')} ${entries[i]!.help}`);
  }
  return `Exit codes: ${items.join(', ')}.`;
}

/** The range `code` falls in, if any. */
export function exitCodeRange(code: number): ExitCodeRange | undefined {
  return EXIT_CODE_RANGES.find((r) => code >= r.from && code <= r.to);
}
