import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP, modelsError } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { verifyModels, type VerifyResult } from '../../services/models-verify.js';

export default class ModelsVerify extends ModelsCommand {
  static override summary =
    'Re-hash every blob of every model in a models directory; --repair restores damaged ones from a bundle.';
  static override description = `Ollama never re-checks a blob once it is on disk. This reads every manifest under the models directory and re-hashes every blob it references (each shared blob once, several at a time), reporting missing, truncated and corrupt blobs and unreadable manifests. With --repair BUNDLE, each damaged blob the bundle holds is restored (checked against the digest the node's manifest names, written to a temp file and renamed) and the models are verified again. Needs --ollama-store: an Ollama server's blobs cannot be hashed over its API.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models verify --ollama-store /var/lib/ollama/models',
    '<%= config.bin %> models verify assist:1.0 --ollama-store /var/lib/ollama/models --repair /media/usb/demo-1.0.0.kcb.tar.zst',
  ];

  static override args = { model: Args.string({ description: 'Only this model (NAME or NAME:TAG).' }) };

  static override flags = {
    ...nodeFlags,
    repair: Flags.string({ summary: 'Restore missing or corrupt blobs from this bundle.' }),
    concurrency: Flags.integer({
      summary: 'Blobs hashed at once (default: cores, at most 4).',
      min: 1,
      max: 64,
    }),
  };

  async run(): Promise<VerifyResult> {
    const { args, flags } = await this.parse(ModelsVerify);
    const nodes = this.nodes(flags);
    const r = await this.progress('Verifying models', (reporter) =>
      verifyModels(nodes, {
        names: args.model ? [args.model] : undefined,
        repairBundle: flags.repair,
        concurrency: flags.concurrency,
        reporter,
      }),
    );
    for (const n of r.nodes) {
      this.say(
        `${n.node}: ${n.error ? `FAILED (${n.error.message})` : `${n.models.length} manifest(s), ${formatBytes(n.bytesHashed)} hashed`}`,
      );
      for (const d of n.repaired) this.say(`  repaired ${d}`);
      for (const m of n.models) {
        if (m.parseError) this.say(`  ✗ ${m.name}: manifest unreadable (${m.parseError})`);
        for (const p of m.problems)
          this.say(
            `  ✗ ${m.name}: ${p.digest} ${p.problem}${p.problem === 'size' ? ` (${p.actualSize} bytes, expected ${p.expectedSize})` : ''}${p.actualDigest ? ` (is ${p.actualDigest})` : ''}`,
          );
        if (!m.parseError && m.problems.length === 0) this.say(`  ✓ ${m.name}`);
      }
    }
    for (const s of r.skipped)
      this.say(`${s}: skipped (an API node's blobs cannot be hashed; use --ollama-store)`);
    if (r.failed.length === 0 && !r.ok) {
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        this.exit(52);
      }
      throw modelsError(
        'modelCorrupt',
        `${r.problems} problem(s) in the models`,
        flags.repair
          ? 'the bundle lacks some blobs: repair from a bundle that holds these models'
          : 'restore them with --repair BUNDLE (a bundle holding these models)',
      );
    }
    return this.settle(r, r.nodes.length);
  }
}
