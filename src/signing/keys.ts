/**
 * Ed25519 signing keys (tweetnacl). The public key is a standard SPKI PEM (`openssl pkey -pubin`
 * reads it); its key id is the sha256 of the SPKI DER. The private key file is kubechat's own JSON
 * document: the 32-byte seed sealed with tweetnacl secretbox (XSalsa20-Poly1305) under a key derived
 * from the passphrase with scrypt (N=2^17, r=8, p=1: 128 MiB, about half a second), or stored in
 * clear with `--no-passphrase`. Neither the passphrase nor key bytes ever appear in an error.
 */
import { createHash, randomBytes, scrypt as scryptCb } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type naclDefault from 'tweetnacl';
import { describeFsError, keyError, trustError } from '../lib/errors.js';

/**
 * tweetnacl, loaded by the functions that hold a private key: reading public keys (every install
 * with trusted keys) does not need it.
 */
type Nacl = typeof naclDefault;
const loadNacl = async (): Promise<Nacl> => (await import('tweetnacl')).default;
/** XSalsa20-Poly1305's nonce (tweetnacl's secretbox.nonceLength). */
const NONCE_LENGTH = 24;

export const PASSPHRASE_ENV = 'KUBECHAT_KEY_PASSPHRASE';
export const PASSPHRASE_FILE_ENV = 'KUBECHAT_KEY_PASSPHRASE_FILE';

/**
 * The passphrase: the file named by KUBECHAT_KEY_PASSPHRASE_FILE (one trailing newline dropped;
 * for secrets mounted as files), else KUBECHAT_KEY_PASSPHRASE, else undefined. `names` picks
 * another pair of variables (the CA's KUBECHAT_CA_PASSPHRASE[_FILE]).
 */
export async function readPassphrase(
  env: NodeJS.ProcessEnv = process.env,
  names: { value: string; file: string } = { value: PASSPHRASE_ENV, file: PASSPHRASE_FILE_ENV },
): Promise<string | undefined> {
  const file = env[names.file];
  if (file) {
    const text = await readFile(file, 'utf8').catch((err: unknown) => {
      throw readFailure(err, file);
    });
    return text.replace(/\r?\n$/, '') || undefined;
  }
  return env[names.value] || undefined;
}
const KEY_FORMAT = 'kubechat-ed25519-private-key';
const KDF = { name: 'scrypt', logN: 17, r: 8, p: 1 } as const;
/** Bounds accepted from a key file, so a crafted file cannot make scrypt eat the machine. */
const MAX_LOG_N = 20;
/** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQUENCE { AlgId { 1.3.101.112 }, BIT STRING }. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface PublicKeyInfo {
  /** sha256 hex of the SPKI DER. */
  keyId: string;
  /** The raw 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  spkiDer: Buffer;
  pem: string;
}

export interface SigningKey extends PublicKeyInfo {
  /** Signs `data` (detached Ed25519). */
  sign(data: Uint8Array): Buffer;
  /** Zeroes the secret key in memory. */
  dispose(): void;
}

interface KeyFile {
  format: typeof KEY_FORMAT;
  version: 1;
  keyId: string;
  publicKey: string;
  encryption: null | {
    kdf: { name: 'scrypt'; logN: number; r: number; p: number; salt: string };
    cipher: { name: 'xsalsa20-poly1305'; nonce: string };
  };
  /** The 32-byte seed: in clear (base64) when `encryption` is null, else the secretbox. */
  secret: string;
}

export function keyIdOf(spkiDer: Uint8Array): string {
  return createHash('sha256').update(spkiDer).digest('hex');
}

export function publicKeyInfo(publicKey: Uint8Array): PublicKeyInfo {
  const spkiDer = Buffer.concat([SPKI_PREFIX, publicKey]);
  const b64 = spkiDer.toString('base64');
  const pem = `-----BEGIN PUBLIC KEY-----\n${b64}\n-----END PUBLIC KEY-----\n`;
  return { keyId: keyIdOf(spkiDer), publicKey: Uint8Array.from(publicKey), spkiDer, pem };
}

/** Parses an SPKI PEM holding an Ed25519 public key. `source` names it in errors. */
export function parsePublicKey(text: string, source: string): PublicKeyInfo {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(text);
  const der = m ? Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64') : undefined;
  if (
    !der ||
    der.length !== SPKI_PREFIX.length + 32 ||
    !der.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX)
  ) {
    throw keyError(
      `${source}: not an Ed25519 public key (expected an SPKI PEM "BEGIN PUBLIC KEY" block)`,
      'pass the .pub file written by kubechat keys generate',
    );
  }
  return publicKeyInfo(der.subarray(SPKI_PREFIX.length));
}

export async function readPublicKey(path: string): Promise<PublicKeyInfo> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw readFailure(err, path);
  });
  return parsePublicKey(text, path);
}

function scrypt(passphrase: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) =>
    scryptCb(passphrase.normalize('NFC'), salt, 32, { N, r, p, maxmem: 256 * N * r }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

function signingKey(nacl: Nacl, seed: Uint8Array): SigningKey {
  const pair = nacl.sign.keyPair.fromSeed(seed);
  const info = publicKeyInfo(pair.publicKey);
  const secret = pair.secretKey;
  return {
    ...info,
    sign: (data) => Buffer.from(nacl.sign.detached(data, secret)),
    dispose: () => secret.fill(0),
  };
}

/** A fresh key pair: the private key file's text and the public key. */
export async function generateKey(
  passphrase: string | undefined,
): Promise<{ keyFile: string; key: PublicKeyInfo }> {
  const nacl = await loadNacl();
  const seed = nacl.randomBytes(32);
  const key = signingKey(nacl, seed);
  try {
    let doc: KeyFile;
    if (passphrase === undefined) {
      doc = {
        format: KEY_FORMAT,
        version: 1,
        keyId: key.keyId,
        publicKey: Buffer.from(key.publicKey).toString('base64'),
        encryption: null,
        secret: Buffer.from(seed).toString('base64'),
      };
    } else {
      const salt = randomBytes(16);
      const nonce = nacl.randomBytes(NONCE_LENGTH);
      const k = await scrypt(passphrase, salt, KDF.logN, KDF.r, KDF.p);
      const box = nacl.secretbox(seed, nonce, k);
      k.fill(0);
      doc = {
        format: KEY_FORMAT,
        version: 1,
        keyId: key.keyId,
        publicKey: Buffer.from(key.publicKey).toString('base64'),
        encryption: {
          kdf: { ...KDF, salt: salt.toString('base64') },
          cipher: { name: 'xsalsa20-poly1305', nonce: Buffer.from(nonce).toString('base64') },
        },
        secret: Buffer.from(box).toString('base64'),
      };
    }
    return { keyFile: JSON.stringify(doc, null, 2) + '\n', key: publicKeyInfo(key.publicKey) };
  } finally {
    seed.fill(0);
    key.dispose();
  }
}

const corrupt = (path: string, what: string) =>
  keyError(
    `${path}: ${what}: not a usable kubechat private key`,
    'restore the key file from its backup, or generate a new key',
  );

function parseKeyFile(text: string, path: string): KeyFile {
  let doc: Partial<KeyFile>;
  try {
    doc = JSON.parse(text) as Partial<KeyFile>;
  } catch {
    throw corrupt(path, 'not valid JSON');
  }
  if (doc === null || typeof doc !== 'object' || doc.format !== KEY_FORMAT)
    throw corrupt(path, `not a ${KEY_FORMAT} file`);
  if (doc.version !== 1) throw corrupt(path, `unsupported key file version ${String(doc.version)}`);
  const b64 = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(v);
  if (typeof doc.keyId !== 'string' || !/^[a-f0-9]{64}$/.test(doc.keyId)) throw corrupt(path, 'bad keyId');
  if (!b64(doc.publicKey) || Buffer.from(doc.publicKey!, 'base64').length !== 32)
    throw corrupt(path, 'bad publicKey');
  if (!b64(doc.secret)) throw corrupt(path, 'bad secret');
  const e = doc.encryption;
  if (e !== null) {
    const kdf = e?.kdf;
    const ok =
      kdf?.name === 'scrypt' &&
      Number.isInteger(kdf.logN) &&
      kdf.logN >= 10 &&
      kdf.logN <= MAX_LOG_N &&
      Number.isInteger(kdf.r) &&
      kdf.r >= 1 &&
      kdf.r <= 32 &&
      Number.isInteger(kdf.p) &&
      kdf.p >= 1 &&
      kdf.p <= 16 &&
      b64(kdf.salt) &&
      e?.cipher?.name === 'xsalsa20-poly1305' &&
      b64(e.cipher.nonce) &&
      Buffer.from(e.cipher.nonce, 'base64').length === NONCE_LENGTH;
    if (!ok) throw corrupt(path, 'bad encryption parameters');
  }
  return doc as KeyFile;
}

/**
 * Loads and unlocks a private key. `passphrase` (from KUBECHAT_KEY_PASSPHRASE) is needed for an
 * encrypted key. A wrong passphrase and damaged ciphertext are indistinguishable (the MAC fails).
 */
export async function loadSigningKey(path: string, passphrase: string | undefined): Promise<SigningKey> {
  const text = await readFile(path, 'utf8').catch((err: unknown) => {
    throw readFailure(err, path);
  });
  const doc = parseKeyFile(text, path);
  const nacl = await loadNacl();
  let seed: Uint8Array;
  if (doc.encryption === null) {
    const mode = (await stat(path)).mode & 0o777;
    if (mode & 0o077) {
      throw keyError(
        `${path}: unencrypted private key is readable by other users (mode ${mode.toString(8).padStart(4, '0')})`,
        `chmod 600 ${path}`,
      );
    }
    seed = Buffer.from(doc.secret, 'base64');
    if (seed.length !== 32) throw corrupt(path, 'bad secret length');
  } else {
    if (passphrase === undefined || passphrase === '') {
      throw trustError(
        'passphrase',
        `${path} is encrypted and neither ${PASSPHRASE_ENV} nor ${PASSPHRASE_FILE_ENV} is set`,
        `export ${PASSPHRASE_ENV} (or ${PASSPHRASE_FILE_ENV}) with the key's passphrase`,
      );
    }
    const { kdf, cipher } = doc.encryption;
    const k = await scrypt(passphrase, Buffer.from(kdf.salt, 'base64'), kdf.logN, kdf.r, kdf.p);
    const opened = nacl.secretbox.open(
      Buffer.from(doc.secret, 'base64'),
      Buffer.from(cipher.nonce, 'base64'),
      k,
    );
    k.fill(0);
    if (!opened || opened.length !== 32) {
      throw trustError(
        'passphrase',
        `${path}: wrong passphrase (or the key's encrypted bytes are damaged)`,
        `set ${PASSPHRASE_ENV} to the passphrase the key was generated with`,
      );
    }
    seed = opened;
  }
  const key = signingKey(nacl, seed);
  seed.fill(0);
  if (key.keyId !== doc.keyId || Buffer.from(doc.publicKey, 'base64').compare(key.publicKey) !== 0) {
    key.dispose();
    throw corrupt(path, 'the secret does not match the recorded public key');
  }
  return key;
}

function readFailure(err: unknown, path: string) {
  const known = describeFsError(err, path, 'read');
  return keyError(
    known?.message ?? `${path}: cannot read key file`,
    known?.fixTemplate ?? 'check the path',
    err,
  );
}
