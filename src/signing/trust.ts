/**
 * The trust store: public keys whose signatures kubechat accepts. Keys come from `--trusted-key`
 * files and from the trust directory (`*.pub`): `--trust-dir`, else KUBECHAT_TRUST_DIR, else
 * `$XDG_CONFIG_HOME/kubechat/trust`, else `~/.config/kubechat/trust`. Like ssh, the directory and
 * its keys must not be writable by other users: anyone who can add a key there can sign installs.
 */
import { lstat, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describeFsError, keyError } from '../lib/errors.js';
import { writeOutputFile } from '../lib/fs.js';
import { parsePublicKey, readPublicKey } from './keys.js';
import type { TrustedKey } from './signature.js';

export const TRUST_DIR_ENV = 'KUBECHAT_TRUST_DIR';

export function defaultTrustDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[TRUST_DIR_ENV]) return resolve(env[TRUST_DIR_ENV]);
  const config = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(config, 'kubechat', 'trust');
}

async function checkNotWritableByOthers(path: string, what: string) {
  const s = await lstat(path);
  if (s.isSymbolicLink()) {
    const target = await stat(path);
    if ((target.mode & 0o022) !== 0) throw unsafe(path, what, target.mode);
    return;
  }
  if ((s.mode & 0o022) !== 0) throw unsafe(path, what, s.mode);
}

const unsafe = (path: string, what: string, mode: number) =>
  keyError(
    `${path}: ${what} is writable by other users (mode ${(mode & 0o777).toString(8).padStart(4, '0')}): anyone could add a trusted key`,
    `chmod go-w ${path}`,
  );

/** The trusted keys in `dir`; an absent directory holds none. A bad file is an error, not skipped. */
export async function readTrustDir(dir: string): Promise<TrustedKey[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    const known = describeFsError(err, dir, 'read');
    throw keyError(known?.message ?? `${dir}: cannot read the trust directory`, known?.fixTemplate, err);
  }
  await checkNotWritableByOthers(dir, 'the trust directory');
  const keys: TrustedKey[] = [];
  for (const name of names.filter((n) => n.endsWith('.pub')).sort()) {
    const path = join(dir, name);
    await checkNotWritableByOthers(path, 'a trusted key');
    keys.push({ ...(await readPublicKey(path)), source: path });
  }
  return keys;
}

export interface TrustOptions {
  /** Public key files given on the command line (--trusted-key). */
  keyFiles?: readonly string[];
  /** The trust directory; defaults to defaultTrustDir(). */
  trustDir?: string;
}

/**
 * Every trusted key: the --trusted-key files, then the trust directory's. The same key from two
 * places counts once (the first place is reported).
 */
export async function loadTrustedKeys(options: TrustOptions = {}): Promise<TrustedKey[]> {
  const keys: TrustedKey[] = [];
  for (const file of options.keyFiles ?? []) keys.push({ ...(await readPublicKey(file)), source: file });
  keys.push(...(await readTrustDir(options.trustDir ?? defaultTrustDir())));
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(k.keyId) && seen.add(k.keyId));
}

export interface TrustResult {
  keyId: string;
  file: string;
  added: boolean;
}

/**
 * Adds a public key to the trust directory as `<name>.pub` (name defaults to the file's own name).
 * Trusting a key already there is a no-op; another key under the same name is refused.
 */
export async function trustKey(
  pubFile: string,
  options: { trustDir?: string; name?: string } = {},
): Promise<TrustResult> {
  const dir = options.trustDir ?? defaultTrustDir();
  const key = await readPublicKey(pubFile);
  const existing = await readTrustDir(dir);
  const same = existing.find((k) => k.keyId === key.keyId);
  if (same) return { keyId: key.keyId, file: same.source, added: false };
  const name = (options.name ?? basename(pubFile)).replace(/\.pub$/, '');
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) {
    throw keyError(
      `"${name}" is not a usable key name`,
      'pass {flag:name} with letters, digits, ".", "_" or "-"',
    );
  }
  const file = join(dir, `${name}.pub`);
  if (existing.some((k) => k.source === file)) {
    throw keyError(
      `${file} already holds another trusted key`,
      'pass {flag:name} to store this key under another name',
    );
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeOutputFile(file, parsePublicKey(await readFile(pubFile, 'utf8'), pubFile).pem, 0o644, false);
  return { keyId: key.keyId, file, added: true };
}
