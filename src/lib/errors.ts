/**
 * Errors a user can act on. Each carries a documented exit code (README "Exit codes") and a
 * one-line fix. Commands print `error: <message>` and `fix: <fix>` and exit with `exitCode`.
 */
import { renderFix } from './fix.js';

export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  spec: 3,
  source: 4,
  bundleFormat: 5,
  integrity: 6,
  /** A key file (private, public or trusted) is missing, corrupt or not a kubechat Ed25519 key. */
  signature: 7,
  output: 8,
  network: 10,
  auth: 11,
  notFound: 12,
  protocol: 13,
  upstreamDigest: 14,
  platform: 15,
  transfer: 16,
  chartRepo: 17,
  chartDependency: 18,
  cache: 19,
  // Signing and trust (20-29): one code per refusal, so scripts can tell them apart.
  unsigned: 20,
  untrustedSigner: 21,
  badSignature: 22,
  manifestTampered: 23,
  foreignStatement: 24,
  payloadType: 25,
  signatureCount: 26,
  expired: 27,
  downgrade: 28,
  passphrase: 29,
  target: 30,
  journal: 31,
  baseMissing: 32,
  /** install: the preflight suite failed; nothing was written. */
  preflight: 33,
  /** install: the content is in, but the post-install validation suites failed. */
  postValidation: 34,
  serveAddress: 35,
  serveTls: 36,
  serveContent: 37,
  serveAuth: 38,
  /** 40–49: database (README "Exit codes"). */
  dbUnreachable: 40,
  dbAuth: 41,
  dbMissing: 42,
  dbDrift: 43,
  dbNewer: 44,
  dbPending: 45,
  dbMigration: 46,
  dbLocked: 47,
  dbEmbedded: 48,
  dbQuery: 49,
  /** 50–59: `kubechat models` (README "Exit codes"). */
  modelsPartial: 50,
  modelNotFound: 51,
  modelCorrupt: 52,
  modelVersion: 53,
  modelPlacement: 54,
  modelBench: 55,
  modelNodeKind: 56,
  /** 60–69: local CA and admin credentials (README "Exit codes"). */
  caMissing: 60,
  caPassphrase: 61,
  caExpired: 62,
  caConstraint: 63,
  caState: 64,
  renewalDue: 65,
  certNotFound: 66,
  passwordPolicy: 67,
  adminState: 68,
  caExists: 69,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
export type TrustRefusal =
  | 'unsigned'
  | 'untrustedSigner'
  | 'badSignature'
  | 'manifestTampered'
  | 'foreignStatement'
  | 'payloadType'
  | 'signatureCount'
  | 'expired'
  | 'downgrade'
  | 'passphrase';

/** The exit-code table, appended to every command's help (the README has the same table). */
export const EXIT_CODES_HELP =
  'Exit codes: 0 ok, 1 internal error (a bug), 2 usage, 3 bad spec or flag value, 4 bad or missing source, ' +
  '5 unreadable or truncated bundle, 6 integrity failure (an entry differs from the manifest), ' +
  '7 key file missing or corrupt, 8 output not writable (disk full, permissions), ' +
  '10 server unreachable (connection, TLS), 11 credentials refused, 12 not found on the server, ' +
  '13 server answered out of protocol, 14 upstream content does not match its digest, ' +
  '15 requested platform not in the image, 16 download interrupted and not resumable, ' +
  '17 bad chart repository index or chart archive, 18 chart dependency unresolvable, ' +
  '19 bad cache flag or cache directory, ' +
  '20 unsigned bundle, 21 signer not trusted, 22 signature does not verify, 23 manifest changed after signing, ' +
  '24 signature is for another bundle, 25 wrong DSSE payloadType, 26 not exactly one signature, ' +
  '27 bundle expired, 28 older than the installed version, 29 wrong or missing passphrase, ' +
  '30 an install target failed or refused a write (registry, Ollama, directory), ' +
  '31 install journal unreadable or unwritable, 32 a delta needs content its base should have installed, ' +
  '33 install preflight failed (nothing written), 34 post-install validation failed, ' +
  '35 registry serve: cannot listen on --addr, 36 registry serve: bad TLS certificate or key, ' +
  '37 registry serve: nothing servable (delta bundle, no seek table, not an OCI layout), ' +
  '38 registry serve: --htpasswd file unreadable or not bcrypt, or basic auth without TLS off loopback, ' +
  '40 database unreachable, 41 database login refused, 42 database does not exist, ' +
  '43 schema drift (an applied migration changed or is unknown), 44 database schema newer than this kubechat, ' +
  '45 migrations pending, 46 a migration failed (rolled back), 47 migration lock busy, ' +
  '48 embedded PostgreSQL could not start, 49 database query failed, ' +
  '50 models: done on some nodes, failed on others (the summary names them), 51 model not found, ' +
  '52 models verify: missing or corrupt blobs, 53 no such model version to roll back to, ' +
  '54 models plan: some models fit on no node, 55 models bench: requests failed, ' +
  '56 the operation needs an Ollama server (--ollama) or a models directory (--ollama-store), ' +
  '60 no CA in the CA directory (run ca init), 61 CA passphrase wrong or missing, or the root key is offline, ' +
  '62 a CA certificate (root or intermediate) expired or not yet valid, ' +
  '63 a name outside the CA name constraints or not a valid DNS name/IP, 64 CA directory damaged or inconsistent, ' +
  '65 ca renew --check: certificates need renewal, 66 no such certificate (or revoked), ' +
  '67 password does not meet the policy, 68 admin user missing (or already initialised), ' +
  '69 CA or certificate already exists, ' +
  '130/143 interrupted (partial output removed).';

export class KubechatError extends Error {
  readonly exitCode: number;
  /** The fix, each `{flag:NAME}` of it written `--NAME` (lib/fix.ts). */
  readonly fix: string | undefined;
  /** The fix as given, with its `{flag:NAME}` placeholders: the CLI layer writes the command's own flags. */
  readonly fixTemplate: string | undefined;
  readonly kind: ExitCodeName;

  constructor(kind: ExitCodeName, message: string, fix?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubechatError';
    this.kind = kind;
    this.exitCode = ExitCode[kind];
    this.fixTemplate = fix;
    this.fix = fix === undefined ? undefined : renderFix(fix);
  }
}

/** Bad bundle spec (bundles/*.yaml): schema violations, unknown fields, bad refs. */
export const specError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('spec', message, fix, { cause });
/** A source named by the spec is missing, unreadable or malformed (OCI layout, GGUF, chart, files). */
export const sourceError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('source', message, fix, { cause });
/** The bundle file cannot be read as a kubechat bundle (truncated, not zstd, not tar, bad manifest). */
export const formatError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('bundleFormat', message, fix, { cause });
/** Content does not match the manifest: digest or size mismatch, missing, extra or duplicate entries. */
export const integrityError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('integrity', message, fix, { cause });
/** The output cannot be written (disk full, permission, read-only media). */
export const outputError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('output', message, fix, { cause });

/** A server (registry, Ollama, chart repository) cannot be reached: refused, reset, DNS, TLS, timeout. */
export const networkError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('network', message, fix, { cause });
/** The server refused our credentials, or wants credentials we do not have. */
export const authError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('auth', message, fix, { cause });
/** The server does not have what was asked for (image, tag, blob, chart version, model). */
export const notFoundError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('notFound', message, fix, { cause });
/** The server answered something the protocol does not allow (bad status, bad JSON, wrong media type). */
export const protocolError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('protocol', message, fix, { cause });
/** A registry or repository served content whose sha256 is not the digest that names it. */
export const upstreamDigestError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('upstreamDigest', message, fix, { cause });
/** A platform the spec asks for is not among the image's platforms. */
export const platformError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('platform', message, fix, { cause });
/** A download kept failing part-way (connection dropped) after every retry and resume. */
export const transferError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('transfer', message, fix, { cause });
/** A chart repository's index.yaml is unusable (no digest, bad YAML) or a chart archive is malformed. */
export const chartRepoError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('chartRepo', message, fix, { cause });
/** A chart dependency (Chart.yaml dependencies) cannot be resolved or vendored. */
export const chartDependencyError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('chartDependency', message, fix, { cause });
/** Bad cache flag value (--max-size, --older-than) or an unusable cache directory. */
export const cacheError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('cache', message, fix, { cause });
/** A key file (private key, public key, trusted key, trust directory) is missing, corrupt or of the wrong kind. */
export const keyError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('signature', message, fix, { cause });
/** A signing or trust refusal (exit codes 20-29). */
export const trustError = (kind: TrustRefusal, message: string, fix?: string, cause?: unknown) =>
  new KubechatError(kind, message, fix, { cause });
/** An install target (registry, Ollama, OCI layout or files directory) failed or refused a write. */
export const targetError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('target', message, fix, { cause });
/** A delta bundle references content that is neither in it nor already on the target. */
export const baseMissingError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('baseMissing', message, fix, { cause });
/** `registry serve` cannot listen on its address (in use, not a local address, privileged port). */
export const serveAddressError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('serveAddress', message, fix, { cause });
/** `registry serve` TLS certificate or key unreadable, invalid, or not a pair. */
export const serveTlsError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('serveTls', message, fix, { cause });
/** `registry serve` was given something it cannot serve in place (delta bundle, no seek table, not a layout). */
export const serveContentError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('serveContent', message, fix, { cause });

/** `registry serve --htpasswd`: the file is unusable, or passwords would cross the network in clear. */
export const serveAuthError = (message: string, fix?: string, cause?: unknown) =>
  new KubechatError('serveAuth', message, fix, { cause });

/** A `kubechat models` error (exit 50–59); `kind` picks the code. */
export const modelsError = (
  kind:
    | 'modelsPartial'
    | 'modelNotFound'
    | 'modelCorrupt'
    | 'modelVersion'
    | 'modelPlacement'
    | 'modelBench'
    | 'modelNodeKind',
  message: string,
  fix?: string,
  cause?: unknown,
) => new KubechatError(kind, message, fix, { cause });
/** A database error (exit 40–49); `kind` picks the code. */
export const dbError = (
  kind:
    | 'dbUnreachable'
    | 'dbAuth'
    | 'dbMissing'
    | 'dbDrift'
    | 'dbNewer'
    | 'dbPending'
    | 'dbMigration'
    | 'dbLocked'
    | 'dbEmbedded'
    | 'dbQuery',
  message: string,
  fix?: string,
  cause?: unknown,
) => new KubechatError(kind, message, fix, { cause });
/** A local CA or admin-credential error (exit 60–69); `kind` picks the code. */
export const caError = (
  kind:
    | 'caMissing'
    | 'caPassphrase'
    | 'caExpired'
    | 'caConstraint'
    | 'caState'
    | 'renewalDue'
    | 'certNotFound'
    | 'passwordPolicy'
    | 'adminState'
    | 'caExists',
  message: string,
  fix?: string,
  cause?: unknown,
) => new KubechatError(kind, message, fix, { cause });
/**
 * Map a Node.js system error on `path` to a KubechatError with a fix, or undefined if it is not one we
 * know. `fromSpec`: the path was written in a bundle spec (a missing one says how those resolve).
 */
export function describeFsError(
  err: unknown,
  path: string,
  what: 'read' | 'write',
  fromSpec = false,
): KubechatError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const make = what === 'read' ? sourceError : outputError;
  switch (code) {
    case 'ENOENT':
      return make(
        `${path}: no such file or directory`,
        fromSpec ? 'check the path (relative paths resolve against the spec file)' : 'check the path',
        err,
      );
    case 'EACCES':
    case 'EPERM':
      return make(`${path}: permission denied`, `give the current user ${what} access to ${path}`, err);
    case 'ENOSPC':
      return outputError(`${path}: no space left on device`, 'free space, or write to another disk', err);
    case 'EDQUOT':
      return outputError(`${path}: disk quota exceeded`, 'free space, or write to another disk', err);
    case 'EROFS':
      return outputError(
        `${path}: read-only file system`,
        'choose a directory on a writable file system',
        err,
      );
    case 'EISDIR':
      return make(`${path}: is a directory, expected a file`, 'point at the file itself', err);
    case 'ENOTDIR':
      return make(`${path}: a path component is not a directory`, 'check the path', err);
    default:
      return undefined;
  }
}
