import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { databaseFlags, MODELS_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { ModelRecords } from '../../models/records.js';
import { removeModel, type ChangeResult } from '../../services/models.js';

export default class ModelsRemove extends ModelsCommand {
  static override summary = 'Remove a model tag from every node; blobs go only when nothing else uses them.';
  static override description = `Removes NAME:TAG (or every serving tag of NAME) on every node, as Ollama's delete does: the manifest, then each of its blobs that no remaining manifest references — never a blob another model or version uses. The immutable version tags stay (they keep their blobs) unless --all-versions. With a database, each removal is a model_distributions row (method remove), and a model removed from every node that held it is marked retired in local_ai_models.

${MODELS_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models remove assist:1.0 --ollama http://gpu1:11434 --ollama http://gpu2:11434',
    '<%= config.bin %> models remove assist:1.0 --all-versions --ollama-store /var/lib/ollama/models',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = {
    ...nodeFlags,
    ...databaseFlags,
    'all-versions': Flags.boolean({ summary: 'Also remove the version tags (<tag>-<12 hex>) of the model.' }),
  };

  async run(): Promise<ChangeResult & { database: { url: string; distributions: number } | null }> {
    const { args, flags } = await this.parse(ModelsRemove);
    const nodes = this.nodes(flags);
    const r = await removeModel(nodes, args.model, { allVersions: flags['all-versions'] });
    let database = null;
    if (flags['database-url']) {
      const records = await ModelRecords.open(flags['database-url']);
      let distributions = 0;
      try {
        const done = r.nodes.filter((n) => n.ok && !n.absent);
        for (const n of done)
          for (const m of n.models)
            if (await records.distribution(m, 'remove', n.node, 'completed')) distributions++;
        // Retired only when no node that held it still does (a failed node may).
        if (r.failed.length === 0)
          for (const m of new Set(done.flatMap((n) => n.models))) await records.setStatus(m, 'retired');
      } finally {
        await records.close();
      }
      database = { url: records.url, distributions };
    }
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
    return this.settle({ ...r, database }, nodes.length);
  }
}
