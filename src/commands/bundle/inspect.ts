import { Args } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { inspectBundle, type InspectResult } from '../../services/inspect-bundle.js';

export default class BundleInspect extends KubechatCommand {
  static override summary = 'Show what a bundle holds, from its manifest.';
  static override description = `Reads only the manifest (and table of contents), so it is fast on any bundle size.
BUNDLE may be the .kcb.tar.zst file, its first split part (.001) or its .parts.json file.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> bundle inspect out/demo-1.0.0.kcb.tar.zst',
    '<%= config.bin %> bundle inspect out/demo-1.0.0.kcb.tar.zst --json',
  ];

  static override args = {
    bundle: Args.string({ description: 'Bundle file, first part or parts file.', required: true }),
  };

  async run(): Promise<InspectResult> {
    const { args } = await this.parse(BundleInspect);
    const r = await inspectBundle(args.bundle);
    this.say(
      `${r.name} ${r.version}${r.delta ? ` (delta against ${r.delta.base.name} ${r.delta.base.version})` : ''}`,
    );
    this.say(`  created   ${r.created}`);
    this.say(`  expires   ${r.expires ?? 'never'}`);
    this.say(`  manifest  ${r.manifestDigest}`);
    if (!r.signer) this.say('  signature none (unsigned)');
    else {
      this.say(`  signature by key ${r.signer.keyId} (claimed, not verified by inspect: run bundle verify)`);
      if (!r.signer.statementMatchesManifest)
        this.say('  warning   the signed statement does not name this manifest');
    }
    if (r.parts > 0) this.say(`  parts     ${r.parts}`);
    const { images, charts, models, files } = r.artifacts;
    if (images.length) this.say('images:');
    for (const i of images)
      this.say(`  ${i.ref}  ${i.digest}  ${formatBytes(i.size)}  [${i.platforms.join(', ')}]`);
    if (charts.length) this.say('charts:');
    for (const c of charts) this.say(`  ${c.name} ${c.version}  ${c.digest}  ${formatBytes(c.size)}`);
    if (models.length) this.say('models:');
    for (const m of models) {
      this.say(
        `  ${m.name}  ${m.digest}  ${formatBytes(m.size)}  ${m.family} ${m.parameterSize} ${m.quantization}`,
      );
    }
    if (files.length) this.say('files:');
    for (const f of files)
      this.say(`  ${f.target}/  ${f.files} files, ${formatBytes(f.size)}  (from ${f.source})`);
    const t = r.totals;
    this.say(
      `totals: ${t.entries} entries, ${formatBytes(t.contentBytes)} of content, ${formatBytes(t.fileBytes)} on disk`,
    );
    if (r.delta && t.storedEntries !== null) {
      this.say(
        `  this delta carries ${t.storedEntries} entries (${formatBytes(t.storedBytes ?? 0)}); the rest come from the base`,
      );
    }
    return r;
  }
}
