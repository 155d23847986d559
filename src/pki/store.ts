/**
 * The CA directory: the one place that knows its file names. `ca.json` is the CA's state (its
 * name, constraints and every certificate it issued) and the commit point of every change: key
 * and certificate files are written to temporary names first, renamed into place, and ca.json is
 * replaced last (temp + fsync + rename). Keys are 0600 and the directory 0700.
 *
 *   DIR/ca.json            state                        DIR/root.pem, intermediate.pem   CA certs
 *   DIR/root.key           root key, encrypted          DIR/intermediate.key             0600
 *   DIR/crl.pem            CRL signed by the intermediate
 *   DIR/certs/NAME.crt     leaf + intermediate          DIR/certs/NAME.key               0600
 */
import { open, readFile, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { caError, describeFsError, outputError } from '../lib/errors.js';
import { kubechatHome } from '../lib/home.js';
import { stageAtomic, type StagedFile } from '../lib/fs.js';
import { onInterrupt } from '../lib/interrupt.js';

export const CA_DIR_ENV = 'KUBECHAT_CA_DIR';
const FORMAT = 'kubechat-ca';

/** --dir, else $KUBECHAT_CA_DIR, else $KUBECHAT_HOME/ca. */
export function defaultCaDir(env: NodeJS.ProcessEnv = process.env): string {
  return env[CA_DIR_ENV] ? resolve(env[CA_DIR_ENV]) : join(kubechatHome(env), 'ca');
}

export interface CaPaths {
  dir: string;
  state: string;
  rootCert: string;
  rootKey: string;
  intermediateCert: string;
  intermediateKey: string;
  crl: string;
  certs: string;
  lock: string;
}

export function caPaths(dir: string): CaPaths {
  const d = resolve(dir);
  return {
    dir: d,
    state: join(d, 'ca.json'),
    rootCert: join(d, 'root.pem'),
    rootKey: join(d, 'root.key'),
    intermediateCert: join(d, 'intermediate.pem'),
    intermediateKey: join(d, 'intermediate.key'),
    crl: join(d, 'crl.pem'),
    certs: join(d, 'certs'),
    lock: join(d, '.lock'),
  };
}

/** A certificate NAME: also its file name, so no paths and nothing a shell would mangle. */
export const CERT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function leafPaths(paths: CaPaths, name: string): { cert: string; key: string } {
  if (!CERT_NAME.test(name) || name.includes('..'))
    throw caError(
      'caConstraint',
      `"${name}" is not a usable certificate name`,
      'use lower-case letters, digits, ".", "_" and "-" (it becomes NAME.crt and NAME.key)',
    );
  return { cert: join(paths.certs, `${name}.crt`), key: join(paths.certs, `${name}.key`) };
}

export type CertStatus = 'active' | 'revoked' | 'superseded';

export interface CertRecord {
  name: string;
  /** Hex, lower case, as `openssl x509 -serial` prints it (upper case there). */
  serial: string;
  server: boolean;
  client: boolean;
  dns: string[];
  ips: string[];
  notBefore: string;
  notAfter: string;
  /** The lifetime asked for, kept for renewals. */
  days: number;
  status: CertStatus;
  revokedAt?: string;
  /** The serial of the certificate that replaced this one. */
  supersededBy?: string;
}

export interface CaState {
  format: typeof FORMAT;
  version: 1;
  name: string;
  created: string;
  constraints: { domains: string[]; ips: string[] };
  root: { serial: string; notAfter: string; keyOffline: boolean };
  intermediate: { serial: string; notAfter: string };
  crlNumber: number;
  certificates: CertRecord[];
}

export function newState(
  fields: Omit<CaState, 'format' | 'version' | 'crlNumber' | 'certificates'>,
): CaState {
  return { format: FORMAT, version: 1, crlNumber: 0, certificates: [], ...fields };
}

/** Reads ca.json: exit 60 when there is none, 64 when it is not a kubechat CA's. */
export async function loadState(paths: CaPaths): Promise<CaState> {
  const text = await readFile(paths.state, 'utf8').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw caError(
        'caMissing',
        `no CA in ${paths.dir}`,
        'run kubechat ca init, or point {flag:ca-dir} / KUBECHAT_CA_DIR at the CA',
      );
    throw describeFsError(err, paths.state, 'read') ?? err;
  });
  let state: Partial<CaState>;
  try {
    state = JSON.parse(text) as Partial<CaState>;
  } catch {
    throw damaged(paths.state, 'not valid JSON');
  }
  if (state?.format !== FORMAT || state.version !== 1)
    throw damaged(paths.state, 'not a kubechat CA state file');
  if (!Array.isArray(state.certificates) || !state.constraints || !state.root || !state.intermediate)
    throw damaged(paths.state, 'fields missing');
  return state as CaState;
}

export const damaged = (path: string, what: string) =>
  caError('caState', `${path}: ${what}`, 'restore the CA directory from its backup');

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw damaged(path, 'missing');
    throw describeFsError(err, path, 'read') ?? err;
  });
}

export const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * A set of files written together: each goes to a temporary name next to its target (fsynced,
 * with its mode), `commit()` renames them all into place in the order given, `abort()` removes
 * whatever is still temporary. Write ca.json last so that it commits the change.
 */
export class FileBatch {
  /** Temp files are removed by Ctrl-C / SIGTERM (lib/fs.ts): they may hold a private key. */
  readonly #pending: StagedFile[] = [];

  async add(path: string, text: string, mode: number): Promise<void> {
    try {
      this.#pending.push(await stageAtomic(path, text, { mode }));
    } catch (err) {
      throw describeFsError(err, path, 'write') ?? outputError(`${path}: cannot write`, undefined, err);
    }
  }

  async commit(): Promise<void> {
    for (const staged of this.#pending) {
      await staged.commit().catch((err: unknown) => {
        throw (
          describeFsError(err, staged.path, 'write') ??
          outputError(`${staged.path}: cannot write`, undefined, err)
        );
      });
    }
    this.#pending.length = 0;
  }

  async abort(): Promise<void> {
    await Promise.all(this.#pending.map((staged) => staged.abort()));
    this.#pending.length = 0;
  }
}

export const stateText = (state: CaState) => JSON.stringify(state, null, 2) + '\n';

/**
 * Holds DIR/.lock (O_EXCL) while `work` runs, so two ca commands never interleave their writes.
 * A lock left by a process that no longer exists is taken over.
 */
export async function withCaLock<T>(paths: CaPaths, work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(paths.lock, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT')
        throw caError('caMissing', `no CA in ${paths.dir}`, 'run kubechat ca init first');
      if (code !== 'EEXIST' || attempt > 0) {
        throw caError(
          'caState',
          `${paths.lock}: another kubechat ca command is working on this CA`,
          'wait for it to finish; remove the lock file only if no such command runs',
        );
      }
      const holder = Number((await readFile(paths.lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw caError(
          'caState',
          `${paths.lock}: process ${holder} is working on this CA`,
          'wait for it to finish, then run the command again',
        );
      }
      await rm(paths.lock, { force: true });
    }
  }
  const release = onInterrupt(() => rm(paths.lock, { force: true }));
  try {
    return await work();
  } finally {
    release();
    await rm(paths.lock, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
