import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP, ExitCode, integrityError } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { verifyBundle, type VerifyResult } from '../../install/verify-bundle.js';
import { trustFlags } from '../../cli/trust-flags.js';
import { loadTrustedKeys } from '../../signing/trust.js';

export default class BundleVerify extends KubechatCommand {
  static override summary = 'Check every entry of a bundle against its manifest.';
  static override description = `Reads the bundle once, front to back (split parts in place, without rejoining them),
and checks each entry's sha256 and size against the manifest, that nothing is missing, extra or
duplicated, the table of contents, and that every blob the OCI index references is present.
A delta's entries that come from its base are checked against the base's manifest with --base.

A signed bundle's signature is checked first, offline, against the trusted keys (--trusted-key files and
the trust directory, see kubechat keys trust): the signer must be trusted, the signature must verify, and
the signed statement must name exactly this manifest; an expired bundle is refused unless --allow-expired.
An unsigned bundle passes unless --require-signature.
Exits ${ExitCode.integrity} when an entry check fails, ${ExitCode.bundleFormat} when the file cannot be read as a bundle,
20-27 when the signature is refused.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> bundle verify out/demo-1.0.0.kcb.tar.zst',
    '<%= config.bin %> bundle verify /media/usb/demo-1.0.0.kcb.tar.zst.parts.json --json',
    '<%= config.bin %> bundle verify out/demo-1.1.0.delta-1.0.0.kcb.tar.zst --base out/demo-1.0.0.kcb.tar.zst',
    '<%= config.bin %> bundle verify out/demo-1.0.0.kcb.tar.zst --require-signature --trusted-key release.pub',
  ];

  static override args = {
    bundle: Args.string({ description: 'Bundle file, first part or parts file.', required: true }),
  };
  static override flags = {
    base: Flags.string({ summary: 'For a delta: the base bundle it was made against.' }),
    ...trustFlags,
    'require-signature': Flags.boolean({ summary: 'Refuse an unsigned bundle (exit 20).' }),
    'allow-expired': Flags.boolean({ summary: 'Accept a bundle past its expiry (printed as a warning).' }),
  };

  async run(): Promise<VerifyResult> {
    const { args, flags } = await this.parse(BundleVerify);
    const trustedKeys = await loadTrustedKeys({
      keyFiles: flags['trusted-key'],
      trustDir: flags['trust-dir'],
    });
    const r = await this.progress(`Verifying ${args.bundle}`, (reporter) =>
      verifyBundle({
        bundlePath: args.bundle,
        basePath: flags.base,
        trustedKeys,
        requireSignature: flags['require-signature'],
        allowExpired: flags['allow-expired'],
        reporter,
      }),
    );
    for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    this.say(`${r.name} ${r.version}: ${r.ok ? 'OK' : `${r.problems.length} problem(s)`}`);
    this.say(`  manifest  ${r.manifestDigest}`);
    this.say(`  entries   ${r.entries.checked} checked, ${formatBytes(r.entries.bytes)} of content`);
    if (r.delta) {
      const how = r.delta.baseChecked ? 'found in the base' : 'not checked (pass --base)';
      this.say(
        `  delta     ${r.entries.fromBase} entries from ${r.delta.base.name} ${r.delta.base.version}: ${how}`,
      );
    }
    this.say(
      `  signature ${r.signer ? `verified: key ${r.signer.keyId} (${r.signer.key})` : 'absent (unsigned bundle)'}`,
    );
    this.say(`  expires   ${r.expires ?? 'never'}`);
    for (const p of r.problems.slice(0, 20)) this.say(`  ✗ ${p.message}`);
    if (r.problems.length > 20) this.say(`  … and ${r.problems.length - 20} more (see --json)`);
    if (!r.ok) {
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        this.exit(ExitCode.integrity);
      }
      throw integrityError(
        `${args.bundle}: ${r.problems[0]!.message}`,
        'copy the bundle again from its source, or recreate it',
      );
    }
    return r;
  }
}
