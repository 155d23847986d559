import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { parseSplitSize } from '../../bundle/split.js';
import { mergeBundle, type MergeResult } from '../../services/merge-bundle.js';

export default class BundleMerge extends KubechatCommand {
  static override summary = 'Rebuild a full bundle from a delta and its base.';
  static override description = `Reads the delta once and takes what it leaves out from the base (by random access).
The result has the same entries as a full create of the new version, and the delta's manifest and
signature byte for byte. Every entry is checked against the manifest while it is written.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> bundle merge --base out/demo-1.0.0.kcb.tar.zst out/demo-1.1.0.delta-1.0.0.kcb.tar.zst -o merged',
  ];

  static override args = { delta: Args.string({ description: 'Delta bundle.', required: true }) };
  static override flags = {
    base: Flags.string({ summary: 'Base bundle the delta was made against.', required: true }),
    output: Flags.string({ char: 'o', summary: 'Output directory.', default: '.' }),
    split: Flags.string({ summary: 'Cut the result into parts: fat32, dvd, bd or a size.' }),
  };

  async run(): Promise<MergeResult> {
    const { args, flags } = await this.parse(BundleMerge);
    const splitSize = flags.split === undefined ? undefined : parseSplitSize(flags.split);
    const r = await this.progress(`Merging ${args.delta}`, (reporter) =>
      mergeBundle({ deltaPath: args.delta, basePath: flags.base, outDir: flags.output, splitSize, reporter }),
    );
    this.say(`Bundle ${r.name} ${r.version}`);
    for (const f of r.files) this.say(`  ${f}`);
    this.say(
      `  ${r.entries.fromDelta} entries from the delta, ${r.entries.fromBase} from the base, ${formatBytes(r.bytes)}`,
    );
    this.say(`  manifest ${r.manifestDigest}`);
    return r;
  }
}
