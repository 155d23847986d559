import { Flags } from '@oclif/core';
import { resolve } from 'node:path';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP, trustError } from '../../lib/errors.js';
import { writeOutputFile } from '../../lib/fs.js';
import { generateKey, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, readPassphrase } from '../../signing/keys.js';

export interface KeysGenerateResult {
  keyId: string;
  privateKey: string;
  publicKey: string;
  encrypted: boolean;
}

export default class KeysGenerate extends KubechatCommand {
  static override summary = 'Generate an Ed25519 signing key pair: PREFIX.key and PREFIX.pub.';
  static override description = `PREFIX.pub is the public key as an SPKI PEM (what verifiers trust; openssl reads it).
PREFIX.key is the private key, encrypted with the passphrase in ${PASSPHRASE_ENV} (or the file named by
${PASSPHRASE_FILE_ENV}) (scrypt N=2^17,
r=8, p=1 + XSalsa20-Poly1305) and written with mode 0600. Without a passphrase it refuses unless
--no-passphrase (then the key is stored in clear: keep it on an encrypted disk or an HSM-backed host).
The key id is the sha256 of the public key's SPKI DER. Existing files are never replaced without --force.

${EXIT_CODES_HELP}`;

  static override examples = [
    'KUBECHAT_KEY_PASSPHRASE=… <%= config.bin %> keys generate --out release',
    '<%= config.bin %> keys generate --out ci-signing --no-passphrase',
  ];

  static override flags = {
    out: Flags.string({ summary: 'Output prefix: writes PREFIX.key and PREFIX.pub.', required: true }),
    'no-passphrase': Flags.boolean({ summary: 'Store the private key unencrypted.' }),
    force: Flags.boolean({ summary: 'Replace existing PREFIX.key / PREFIX.pub.' }),
  };

  async run(): Promise<KeysGenerateResult> {
    const { flags } = await this.parse(KeysGenerate);
    const passphrase = await readPassphrase();
    if (!passphrase && !flags['no-passphrase']) {
      throw trustError(
        'passphrase',
        `no passphrase (${PASSPHRASE_ENV} or ${PASSPHRASE_FILE_ENV}): refusing to write an unencrypted private key`,
        `export ${PASSPHRASE_ENV}, or pass --no-passphrase to store the key in clear`,
      );
    }
    const keyPath = resolve(`${flags.out}.key`);
    const pubPath = resolve(`${flags.out}.pub`);
    const { keyFile, key } = await generateKey(flags['no-passphrase'] ? undefined : passphrase);
    // Public key first: a half-done run then leaves no private key without its public half.
    await writeOutputFile(pubPath, key.pem, 0o644, flags.force);
    await writeOutputFile(keyPath, keyFile, 0o600, flags.force);
    this.say(`Key ${key.keyId}`);
    this.say(`  private ${keyPath} (${flags['no-passphrase'] ? 'NOT encrypted' : 'encrypted'}, mode 0600)`);
    this.say(`  public  ${pubPath}`);
    this.say(`  trust it where bundles are verified: kubechat keys trust ${pubPath}`);
    return { keyId: key.keyId, privateKey: keyPath, publicKey: pubPath, encrypted: !flags['no-passphrase'] };
  }
}
