/**
 * Errors a user can act on. Each carries a documented exit code (the table in exit-codes.ts, rendered
 * in docs/exit-codes.md) and a one-line fix. Commands print `error: <message>` and `fix: <fix>` and
 * exit with `exitCode`.
 */
import { ExitCode } from './exit-codes.js';

export { ExitCode, EXIT_CODES_HELP } from './exit-codes.js';
import { renderFix } from './fix.js';

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
