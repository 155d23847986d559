import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { databaseFlags, MODELS_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { ModelRecords } from '../../models/records.js';
import { rollbackModel, type ChangeResult } from '../../services/models.js';

type Move = { model: string; from: string | null; to: string; digest: string };

export default class ModelsRollback extends ModelsCommand {
  static override summary = 'Point a model’s serving tag back at an earlier version, on every node.';
  static override description = `The serving tag (assist:1.0) is an alias of one immutable version tag (assist:1.0-<12 hex>). Rollback moves it to the version imported before the current one, or to --to VERSION (the version tag, its 12 hex, or a unique prefix of at least 4): with /api/copy on an Ollama server (which copies the manifest byte for byte), or an atomic manifest write (temp file + rename) in a models directory. A loaded model keeps serving the old weights until it is unloaded (models unload). With a database, each move is recorded in model_distributions.

${MODELS_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models rollback assist:1.0 --ollama http://gpu1:11434 --ollama http://gpu2:11434',
    '<%= config.bin %> models rollback assist:1.0 --to 3f2a9c01b7de --ollama-store /var/lib/ollama/models',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = {
    ...nodeFlags,
    ...databaseFlags,
    to: Flags.string({ summary: 'The version to go back to (see models history).' }),
  };

  async run(): Promise<ChangeResult & { database: { url: string; distributions: number } | null }> {
    const { args, flags } = await this.parse(ModelsRollback);
    const nodes = this.nodes(flags);
    const r = await rollbackModel(nodes, args.model, { to: flags.to });
    let database = null;
    if (flags['database-url']) {
      const records = await ModelRecords.open(flags['database-url']);
      let distributions = 0;
      try {
        for (const n of r.nodes)
          for (const m of (n.detail.moves as Move[] | undefined) ?? [])
            if (await records.distribution(m.model, 'rollback', `${n.node} ${m.to}`, 'completed'))
              distributions++;
      } finally {
        await records.close();
      }
      database = { url: records.url, distributions };
    }
    for (const n of r.nodes) {
      if (n.error) this.say(`${n.node}: FAILED (${n.error.message})`);
      else if (n.absent) this.say(`${n.node}: no ${args.model} here`);
      else
        for (const m of n.detail.moves as Move[])
          this.say(`${n.node}: ${m.model} ${m.from ?? '?'} → ${m.to}`);
    }
    return this.settle({ ...r, database }, nodes.length);
  }
}
