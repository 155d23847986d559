import { Args } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import type { ModelVersion } from '../../models/history.js';
import { modelHistory, type ChangeResult } from '../../services/models.js';

export default class ModelsHistory extends ModelsCommand {
  static override summary = 'List the versions of a model on every node, with import time and digest.';
  static override description = `Every import writes an immutable version tag (<tag>-<first 12 hex of the manifest digest>) beside the serving tag; the serving tag is an alias of one of them (marked *). Rollback moves it.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models history assist:1.0 --ollama http://gpu1:11434 --ollama http://gpu2:11434',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = { ...nodeFlags };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(ModelsHistory);
    const nodes = this.nodes(flags);
    const r = await modelHistory(nodes, args.model);
    for (const n of r.nodes) {
      if (n.error) this.say(`${n.node}: FAILED (${n.error.message})`);
      else if (n.absent) this.say(`${n.node}: no ${args.model} here`);
      else
        for (const h of n.detail.history as Array<{ model: string; versions: ModelVersion[] }>) {
          this.say(`${n.node} ${h.model}`);
          if (h.versions.length === 0) this.say('    (no version tags: not imported by kubechat)');
          for (const v of h.versions)
            this.say(`  ${v.current ? '*' : ' '} ${v.tag.padEnd(28)} ${v.importedAt}  ${v.digest}`);
        }
    }
    return this.settle(r, nodes.length);
  }
}
