import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { ModelsCommand, nodeFlags } from '../../models/command.js';
import { removeModel, type ChangeResult } from '../../services/models.js';

export default class ModelsRemove extends ModelsCommand {
  static override summary = 'Remove a model tag from every node; blobs go only when nothing else uses them.';
  static override description = `Removes NAME:TAG (or every serving tag of NAME) on every node, as Ollama's delete does: the manifest, then each of its blobs that no remaining manifest references — never a blob another model or version uses. The immutable version tags stay (they keep their blobs) unless --all-versions.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models remove assist:1.0 --ollama http://gpu1:11434 --ollama http://gpu2:11434',
    '<%= config.bin %> models remove assist:1.0 --all-versions --ollama-store /var/lib/ollama/models',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = {
    ...nodeFlags,
    'all-versions': Flags.boolean({ summary: 'Also remove the version tags (<tag>-<12 hex>) of the model.' }),
  };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(ModelsRemove);
    const nodes = this.nodes(flags);
    const r = await removeModel(nodes, args.model, { allVersions: flags['all-versions'] });
    for (const n of r.nodes) {
      if (n.error) this.say(`${n.node}: FAILED (${n.error.message})`);
      else if (n.absent) this.say(`${n.node}: no ${args.model} here`);
      else {
        const blobs = n.detail.blobsRemoved as string[] | null;
        this.say(
          `${n.node}: removed ${(n.detail.removed as string[]).join(', ')}; ${blobs === null ? 'unreferenced blobs removed by Ollama' : `${blobs.length} unreferenced blob(s) removed`}`,
        );
      }
    }
    return this.settle(r, nodes.length);
  }
}
