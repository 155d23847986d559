/**
 * The bundle signature (`kubechat-bundle.sigstore.json`): a Sigstore bundle v0.3 holding a DSSE
 * envelope (payloadType application/vnd.in-toto+json) whose payload is an in-toto Statement v1 with
 * one subject, `{name: "kubechat-bundle.json", digest: {sha256}}`. Built with @sigstore/sign
 * (DSSEBundleBuilder, our Ed25519 signer, no witnesses: no Fulcio, Rekor or TSA) and verified
 * offline with @sigstore/verify against trust material that holds only the trusted keys.
 *
 * Chain of trust: signature -> statement -> sha256 of the manifest bytes -> every entry.
 */
import type { Bundle } from '@sigstore/bundle';
import type * as SigstoreVerify from '@sigstore/verify';
import { createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import { canonicalJson } from '../lib/json.js';
import { sha256Digest, hexOf } from '../lib/digest.js';
import { formatError, trustError } from '../lib/errors.js';
import { Entry } from '../bundle/layout.js';
import type { BundleManifest } from '../bundle/manifest.js';
import type { PublicKeyInfo, SigningKey } from './keys.js';

// @sigstore/sign (~0.2 s to load), @sigstore/verify (~0.05 s) and @sigstore/bundle with its
// protobuf codecs (~15 ms) load when a bundle is signed or a signature read, not at every start-up:
// an unsigned bundle never needs them.
const require = createRequire(import.meta.url);
const sigstoreVerify = () => require('@sigstore/verify') as typeof SigstoreVerify;
const sigstoreBundle = () => require('@sigstore/bundle') as typeof import('@sigstore/bundle');

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const PREDICATE_TYPE = 'https://kubechat.io/attestations/bundle/v1';

export interface BundlePredicate {
  name: string;
  version: string;
  created: string;
  expires: string | null;
}

export interface Statement {
  _type: typeof STATEMENT_TYPE;
  subject: Array<{ name: string; digest: { sha256: string } }>;
  predicateType: typeof PREDICATE_TYPE;
  predicate: BundlePredicate;
}

/** A public key the operator trusts, and where it came from (a --trusted-key file or the trust directory). */
export interface TrustedKey extends PublicKeyInfo {
  source: string;
}

export function statementFor(
  manifestBytes: Buffer,
  manifest: BundleManifest,
  expires: string | null,
): Statement {
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: Entry.manifest, digest: { sha256: hexOf(sha256Digest(manifestBytes)) } }],
    predicateType: PREDICATE_TYPE,
    predicate: { name: manifest.name, version: manifest.version, created: manifest.created, expires },
  };
}

/**
 * Signs the manifest: returns the bytes of `kubechat-bundle.sigstore.json`. Its length depends only
 * on the lengths of name, version, created and expires, so a placeholder manifest of the final size
 * gives a signature of the final size (create reserves room for it before the content is hashed).
 */
export async function signManifest(
  manifestBytes: Buffer,
  manifest: BundleManifest,
  key: SigningKey,
  expires: string | null,
): Promise<Buffer> {
  const statement = Buffer.from(canonicalJson(statementFor(manifestBytes, manifest, expires)));
  const { DSSEBundleBuilder } = await import('@sigstore/sign');
  const builder = new DSSEBundleBuilder({
    witnesses: [],
    signer: {
      sign: async (data) => ({
        signature: key.sign(data),
        key: { $case: 'publicKey', publicKey: key.pem, hint: key.keyId },
      }),
    },
  });
  const bundle = await builder.create({ data: statement, type: IN_TOTO_PAYLOAD_TYPE });
  return Buffer.from(canonicalJson(sigstoreBundle().bundleToJSON(bundle)));
}

export interface VerifiedSignature {
  keyId: string;
  /** Where the trusted key came from. */
  keySource: string;
  predicate: BundlePredicate;
}

/** Untrusted text from the envelope, made safe for a one-line message (quoted, escaped, bounded). */
const shown = (v: unknown): string => {
  const text = JSON.stringify(String(v));
  return text.length > 90 ? `${text.slice(0, 80)}…"` : text;
};
const KEY_ID = /^[a-f0-9]{64}$/;
/** A bundle name or version as the statement has it: plain when it looks like one, else quoted. */
const printableName = (v: string): string => (/^[A-Za-z0-9._+-]{1,128}$/.test(v) ? v : shown(v));

const malformed = (what: string) =>
  formatError(
    `${Entry.signature}: ${what}`,
    'the signature entry is damaged: copy the bundle again, or re-sign it',
  );

/** Parses the Sigstore bundle far enough to name its signer (for inspect). Nothing is verified. */
export function readSignature(sigstoreBytes: Buffer): { keyId: string; statement: Statement | undefined } {
  const bundle = parseSigstore(sigstoreBytes);
  const keyId =
    bundle.verificationMaterial.content.$case === 'publicKey'
      ? bundle.verificationMaterial.content.publicKey.hint
      : '';
  let statement: Statement | undefined;
  if (bundle.content.$case === 'dsseEnvelope') {
    try {
      statement = parseStatement(bundle.content.dsseEnvelope.payload);
    } catch {
      statement = undefined;
    }
  }
  return { keyId, statement };
}

function parseSigstore(bytes: Buffer, checkEnvelope = false): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw malformed('not valid JSON');
  }
  // Before the schema check, which would call both of these merely "invalid".
  if (checkEnvelope) checkEnvelopeShape(json);
  try {
    return sigstoreBundle().bundleFromJSON(json);
  } catch (err) {
    throw malformed(`not a Sigstore bundle (${(err as Error).message})`);
  }
}

/**
 * The statement inside a verified envelope. A payload that is not a kubechat bundle statement was
 * still signed by a trusted key, for something else (another attestation): refused as foreign.
 */
function parseStatement(payload: Buffer): Statement {
  const foreign = (what: string) =>
    trustError(
      'foreignStatement',
      `${Entry.signature}: the signed payload ${what}, not a kubechat bundle statement (in-toto Statement v1, predicate ${PREDICATE_TYPE})`,
      'do not install this bundle: its signature was made for something else',
    );
  let s: Partial<Statement>;
  try {
    s = JSON.parse(payload.toString('utf8')) as Partial<Statement>;
  } catch {
    throw foreign('is not JSON');
  }
  const p = s?.predicate as Partial<BundlePredicate> | undefined;
  const subjectOk =
    Array.isArray(s.subject) &&
    s.subject.every(
      (x) =>
        typeof x?.name === 'string' &&
        typeof x.digest?.sha256 === 'string' &&
        /^[a-f0-9]{64}$/.test(x.digest.sha256),
    );
  if (
    s?._type !== STATEMENT_TYPE ||
    s.predicateType !== PREDICATE_TYPE ||
    !subjectOk ||
    typeof p?.name !== 'string' ||
    typeof p.version !== 'string' ||
    typeof p.created !== 'string' ||
    !(p.expires === null || (typeof p.expires === 'string' && Number.isFinite(Date.parse(p.expires))))
  ) {
    throw foreign(`has _type ${shown(s?._type)} and predicateType ${shown(s?.predicateType)}`);
  }
  return s as Statement;
}

/** Exactly one signature and the in-toto payloadType (exit codes 26 and 25). */
function checkEnvelopeShape(json: unknown): void {
  const env = (json as { dsseEnvelope?: { signatures?: unknown; payloadType?: unknown } } | null)
    ?.dsseEnvelope;
  if (!env) return; // not a DSSE bundle: reported by the caller
  if (Array.isArray(env.signatures) && env.signatures.length !== 1) {
    throw trustError(
      'signatureCount',
      `${Entry.signature}: the DSSE envelope has ${env.signatures.length} signatures, kubechat requires exactly one`,
      'do not install this bundle: its signature envelope was altered (or re-sign it with kubechat bundle sign --replace)',
    );
  }
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw trustError(
      'payloadType',
      `${Entry.signature}: DSSE payloadType is ${shown(env.payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}`,
      'do not install this bundle: its signature envelope was altered',
    );
  }
}

const EMPTY_TRUSTED_ROOT = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
};

/**
 * Verifies the signature of `manifestBytes` against the trusted keys. Throws a distinct error for
 * each way it can fail (exit codes 21-26); checks expiry nowhere (policy.ts does).
 */
export function verifyManifestSignature(
  manifestBytes: Buffer,
  manifest: BundleManifest,
  sigstoreBytes: Buffer,
  trusted: readonly TrustedKey[],
): VerifiedSignature {
  const bundle = parseSigstore(sigstoreBytes, true);
  const { BUNDLE_V03_MEDIA_TYPE } = sigstoreBundle();
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE)
    throw malformed(`media type ${shown(bundle.mediaType)}, expected ${BUNDLE_V03_MEDIA_TYPE}`);
  if (bundle.content.$case !== 'dsseEnvelope')
    throw malformed('holds a message signature, expected a DSSE envelope');
  const material = bundle.verificationMaterial;
  if (material.content.$case !== 'publicKey')
    throw malformed(
      'names a certificate, expected a public key hint (kubechat keys are not Fulcio certificates)',
    );
  if (
    material.tlogEntries.length > 0 ||
    (material.timestampVerificationData?.rfc3161Timestamps.length ?? 0) > 0
  )
    throw malformed(
      'carries transparency-log entries or timestamps, which offline verification cannot check',
    );
  const envelope = bundle.content.dsseEnvelope;
  checkEnvelopeShape({ dsseEnvelope: envelope });
  const hint = material.content.publicKey.hint;
  const sigKeyId = envelope.signatures[0]!.keyid;
  if (sigKeyId !== '' && sigKeyId !== hint)
    throw malformed(`signature keyid ${shown(sigKeyId)} differs from the key hint ${shown(hint)}`);
  const byId = new Map(trusted.map((k) => [k.keyId, k]));
  const key = byId.get(hint);
  if (!key) {
    throw trustError(
      'untrustedSigner',
      `signed by key ${KEY_ID.test(hint) ? hint : shown(hint)}, which is not a trusted key (${trusted.length} trusted)`,
      'if you trust the signer, add its public key: kubechat keys trust KEY.pub (or pass {flag:trusted-key} KEY.pub)',
    );
  }
  const { toSignedEntity, toTrustMaterial, Verifier } = sigstoreVerify();
  const material0 = toTrustMaterial(EMPTY_TRUSTED_ROOT as Parameters<typeof toTrustMaterial>[0], (h) => {
    const k = byId.get(h);
    if (!k) throw new Error(`internal: key ${h} vanished`);
    return {
      publicKey: createPublicKey({ key: k.spkiDer, format: 'der', type: 'spki' }),
      validFor: () => true,
    };
  });
  const verifier = new Verifier(material0, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  try {
    verifier.verify(toSignedEntity(bundle));
  } catch (err) {
    throw trustError(
      'badSignature',
      `${Entry.signature}: the signature does not verify with trusted key ${hint} (${key.source})`,
      'do not install this bundle: its signature or statement was altered, or it was signed by another key',
      err,
    );
  }
  // Only now is the payload authentic; what it says is checked against the manifest.
  const statement = parseStatement(envelope.payload);
  const pred = statement.predicate;
  const subject = statement.subject;
  const digest = hexOf(sha256Digest(manifestBytes));
  const same = pred.name === manifest.name && pred.version === manifest.version;
  if (subject.length !== 1 || subject[0]!.name !== Entry.manifest) {
    throw trustError(
      'foreignStatement',
      `the signed statement's subjects are ${subject.map((s) => shown(s.name)).join(', ') || 'empty'}, expected exactly ${Entry.manifest}`,
      'do not install this bundle: the signature was made for something else',
    );
  }
  if (subject[0]!.digest.sha256 !== digest) {
    if (same) {
      throw trustError(
        'manifestTampered',
        `${Entry.manifest} was changed after signing: its sha256 is ${digest}, the signature covers ${subject[0]!.digest.sha256}`,
        'do not install this bundle: copy it again from the signed original',
      );
    }
    throw trustError(
      'foreignStatement',
      `the signature is for ${printableName(pred.name)} ${printableName(pred.version)}, not for this bundle ${manifest.name} ${manifest.version}`,
      'do not install this bundle: its signature was taken from another bundle',
    );
  }
  if (!same || pred.created !== manifest.created) {
    throw trustError(
      'foreignStatement',
      `the signed statement names ${printableName(pred.name)} ${printableName(pred.version)} (${shown(pred.created)}), the manifest ${manifest.name} ${manifest.version} (${manifest.created})`,
      'do not install this bundle: its signature was made for another bundle',
    );
  }
  return { keyId: hint, keySource: key.source, predicate: pred };
}

/** The expiry that applies: the earlier of the manifest's and the signed statement's. */
export function effectiveExpiry(
  manifestExpires: string | null,
  signedExpires: string | null | undefined,
): string | null {
  const all = [manifestExpires, signedExpires ?? null].filter((e): e is string => e !== null);
  if (all.length === 0) return null;
  return all.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
}
