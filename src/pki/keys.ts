/**
 * CA and leaf private keys: ECDSA P-256. Leaf and intermediate keys are unencrypted PKCS#8 PEM
 * (mode 0600: servers and cron renewals read them unattended). The root key is an encrypted PKCS#8
 * PEM (PBES2: scrypt N=2^14 r=8 p=8, AES-256-CBC) under the CA passphrase: Node's own PKCS#8
 * export only offers PBKDF2 with 2048 iterations, so the envelope is built here. OpenSSL reads it
 * (`openssl pkey -in root.key`), which is what an operator holding the key offline will have.
 * N stays at 2^14 because OpenSSL refuses scrypt parameters above 32 MiB when decrypting; p=8
 * buys the work factor back. Neither a passphrase nor key bytes ever appear in an error.
 */
import {
  createCipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomBytes,
  scrypt as scryptCb,
  type KeyObject,
  type webcrypto,
} from 'node:crypto';
import { caError } from '../lib/errors.js';
import { readPassphrase } from '../signing/keys.js';

export const CA_PASSPHRASE_ENV = 'KUBECHAT_CA_PASSPHRASE';
export const CA_PASSPHRASE_FILE_ENV = 'KUBECHAT_CA_PASSPHRASE_FILE';

/** KUBECHAT_CA_PASSPHRASE_FILE (a mounted secret), else KUBECHAT_CA_PASSPHRASE. */
export function readCaPassphrase(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  return readPassphrase(env, { value: CA_PASSPHRASE_ENV, file: CA_PASSPHRASE_FILE_ENV }).catch(
    (err: unknown) => {
      throw caError(
        'caPassphrase',
        `${CA_PASSPHRASE_FILE_ENV}: ${(err as Error).message}`,
        `point ${CA_PASSPHRASE_FILE_ENV} at a readable file holding the CA passphrase`,
        err,
      );
    },
  );
}

/** At least this long: the root key file may travel on removable media. */
export const MIN_PASSPHRASE_LENGTH = 12;

export const EC_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function newKeyPair(): Promise<KeyPair> {
  return new Promise((resolve, reject) =>
    generateKeyPair('ec', { namedCurve: 'P-256' }, (err, publicKey, privateKey) =>
      err ? reject(err) : resolve({ publicKey, privateKey }),
    ),
  );
}

/** WebCrypto handles for @peculiar/x509: the private key can only sign, the public one is exportable. */
export function signingKey(key: KeyObject): webcrypto.CryptoKey {
  return key.toCryptoKey(EC_ALGORITHM, false, ['sign']);
}
export function publicCryptoKey(key: KeyObject): webcrypto.CryptoKey {
  return createPublicKey(key).toCryptoKey(EC_ALGORITHM, true, ['verify']);
}

export function plainKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}

// --- a minimal DER writer, enough for EncryptedPrivateKeyInfo (RFC 5958, RFC 8018, RFC 7914) ---
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]) => {
  const value = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value]);
};
const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);
const octets = (b: Buffer) => tlv(0x04, b);
function int(n: number): Buffer {
  const bytes: number[] = [];
  for (let v = n; bytes.length === 0 || v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}
function oid(text: string): Buffer {
  const [a, b, ...rest] = text.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const arc of rest) {
    const group = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) group.unshift((v & 0x7f) | 0x80);
    out.push(...group);
  }
  return tlv(0x06, Buffer.from(out));
}
const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  aes256cbc: '2.16.840.1.101.3.4.1.42',
};
const KDF = { logN: 14, r: 8, p: 8 } as const;

function scrypt(passphrase: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(passphrase, salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** The key as an ENCRYPTED PRIVATE KEY PEM under `passphrase`. */
export async function encryptedKeyPem(key: KeyObject, passphrase: string): Promise<string> {
  const der = key.export({ format: 'der', type: 'pkcs8' });
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const N = 2 ** KDF.logN;
  const k = await scrypt(passphrase, salt, N, KDF.r, KDF.p);
  try {
    const cipher = createCipheriv('aes-256-cbc', k, iv);
    const encrypted = Buffer.concat([cipher.update(der), cipher.final()]);
    const info = seq(
      seq(
        oid(OID.pbes2),
        seq(
          seq(oid(OID.scrypt), seq(octets(salt), int(N), int(KDF.r), int(KDF.p), int(32))),
          seq(oid(OID.aes256cbc), octets(iv)),
        ),
      ),
      octets(encrypted),
    );
    const b64 = info.toString('base64').replace(/(.{64})/g, '$1\n');
    return `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${b64.replace(/\n$/, '')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
  } finally {
    k.fill(0);
    der.fill(0);
  }
}

/**
 * Loads a PEM private key (`source` names it in errors). An encrypted key needs `passphrase`;
 * a wrong passphrase is exit 61, a file that is no P-256 key exit 64.
 */
export function loadPrivateKey(pem: string, source: string, passphrase?: string): KeyObject {
  const encrypted = pem.includes('BEGIN ENCRYPTED PRIVATE KEY');
  if (encrypted && !passphrase) {
    throw caError(
      'caPassphrase',
      `${source} is encrypted and neither ${CA_PASSPHRASE_ENV} nor ${CA_PASSPHRASE_FILE_ENV} is set`,
      `export ${CA_PASSPHRASE_ENV} (or ${CA_PASSPHRASE_FILE_ENV}) with the CA passphrase`,
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(encrypted ? { key: pem, passphrase: passphrase! } : { key: pem });
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (encrypted && /DECRYPT|BAD_DECRYPT|DECODER/.test(code)) {
      throw caError(
        'caPassphrase',
        `${source}: wrong CA passphrase (or the key's encrypted bytes are damaged)`,
        `set ${CA_PASSPHRASE_ENV} to the passphrase given to ca init`,
      );
    }
    throw caError('caState', `${source}: not a readable private key`, 'restore the file from its backup');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw caError('caState', `${source}: not an ECDSA P-256 key`, 'restore the file from its backup');
  return key;
}

/** True when `key` is the private half of the certificate's public key (SPKI DER compared). */
export function keyMatches(key: KeyObject, spkiDer: ArrayBuffer): boolean {
  const mine = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return mine.equals(Buffer.from(spkiDer));
}
