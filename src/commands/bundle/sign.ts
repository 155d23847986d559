import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { signBundle, type SignBundleResult } from '../../services/sign-bundle.js';
import { loadSigningKey, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, readPassphrase } from '../../signing/keys.js';

export default class BundleSign extends KubechatCommand {
  static override summary = 'Sign an existing bundle (rewrites it in place, atomically).';
  static override description = `Adds kubechat-bundle.sigstore.json (a Sigstore bundle v0.3 with a DSSE envelope over an in-toto
statement naming the manifest's sha256) as the bundle's second entry. The manifest is kept byte for
byte, every other entry is copied and checked against it on the way, and the new bundle replaces
the old one (file or split parts) only when it is complete. The private key's passphrase is read
from ${PASSPHRASE_ENV} or the file named by ${PASSPHRASE_FILE_ENV}.

${EXIT_CODES_HELP}`;

  static override examples = [
    'KUBECHAT_KEY_PASSPHRASE=… <%= config.bin %> bundle sign out/demo-1.0.0.kcb.tar.zst --key release.key',
    '<%= config.bin %> bundle sign /media/usb/demo-1.0.0.kcb.tar.zst.parts.json --key release.key --expires 90d',
  ];

  static override args = {
    bundle: Args.string({ description: 'Bundle file, first part or parts file.', required: true }),
  };
  static override flags = {
    key: Flags.string({
      summary: 'Private key file (from kubechat keys generate).',
      required: true,
      env: 'KUBECHAT_SIGNING_KEY',
    }),
    expires: Flags.string({
      summary: 'Expiry in the signature: a duration from now (365d, 12h, 2w, 1y) or a date (2027-01-31).',
    }),
    replace: Flags.boolean({ summary: 'Replace an existing signature.' }),
  };

  async run(): Promise<SignBundleResult> {
    const { args, flags } = await this.parse(BundleSign);
    const signingKey = await loadSigningKey(flags.key, await readPassphrase());
    const r = await this.progress(`Signing ${args.bundle}`, (reporter) =>
      signBundle({
        bundlePath: args.bundle,
        signingKey,
        expires: flags.expires,
        replace: flags.replace,
        reporter,
      }),
    ).finally(() => signingKey.dispose());
    this.say(`Bundle ${r.name} ${r.version} signed by key ${r.keyId}`);
    for (const f of r.files) this.say(`  ${f}`);
    if (r.replaced !== null) this.say(`  replaced the signature by key ${r.replaced || '(unnamed)'}`);
    this.say(`  manifest ${r.manifestDigest}`);
    this.say(`  expires  ${r.expires ?? 'never'}`);
    this.say(`  size     ${formatBytes(r.bytes)}`);
    return r;
  }
}
