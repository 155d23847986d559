import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { databaseFlags, MODELS_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { policyFlags } from '../../cli/trust-flags.js';
import { loadTrustedKeys } from '../../signing/trust.js';
import { importModels, type ImportResult } from '../../services/models-import.js';

export default class ModelsImport extends ModelsCommand {
  static override summary = 'Import some or all models of a bundle onto every node, digests preserved.';
  static override description = `Runs install's own pipeline for the bundle's models only (--model picks some): the same trust policy (a signed bundle from a trusted key; --allow-unsigned, --allow-expired, --allow-downgrade override loudly), the same digest checks and the same Ollama writers — a models directory gets the bundle's manifests byte for byte, an Ollama server gets the weights by /api/blobs and the model by /api/create — and each import writes an immutable version tag (<tag>-<12 hex>) beside the serving tag, for rollback. One pass per node: a node that is down fails alone (exit 50) and the others are imported. With --database-url, install's records (airgap_deployments, local_ai_models, model_catalog) and one model_distributions row per model and node.

${MODELS_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models import demo-1.0.0.kcb.tar.zst --ollama http://gpu1:11434 --ollama http://gpu2:11434',
    '<%= config.bin %> models import demo-1.0.0.kcb.tar.zst --model assist:1.0 --ollama-store /var/lib/ollama/models',
  ];

  static override args = {
    bundle: Args.string({ description: 'Bundle file, first part or parts file.', required: true }),
  };

  static override flags = {
    ...nodeFlags,
    ...databaseFlags,
    ...policyFlags,
    model: Flags.string({
      summary: 'Only this model of the bundle (NAME or NAME:TAG); repeatable.',
      multiple: true,
    }),
    concurrency: Flags.integer({ summary: 'Blob writes in flight at once.', default: 6, min: 1, max: 64 }),
  };

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(ModelsImport);
    const nodes = this.nodes(flags);
    const trustedKeys = await loadTrustedKeys({
      keyFiles: flags['trusted-key'],
      trustDir: flags['trust-dir'],
    });
    const r = await this.progress(`Importing models from ${args.bundle}`, (reporter) =>
      importModels({
        bundlePath: args.bundle,
        nodes,
        models: flags.model,
        trustedKeys,
        allowUnsigned: flags['allow-unsigned'],
        allowExpired: flags['allow-expired'],
        allowDowngrade: flags['allow-downgrade'],
        databaseUrl: flags['database-url'],
        concurrency: flags.concurrency,
        reporter,
        onWarning: (m) => process.stderr.write(`${m}\n`),
      }),
    );
    this.say(`${r.name} ${r.version}: ${r.models.join(', ')}`);
    for (const n of r.nodes) {
      if (n.error) this.say(`  ✗ ${n.node}: ${n.error.message}`);
      else if (n.upToDate) this.say(`  = ${n.node}: already imported`);
      else
        for (const m of n.models)
          this.say(
            `  ${m.status === 'installed' ? '✓' : '='} ${m.location}${m.aliases.length ? ` (version ${m.aliases.join(', ')})` : ''}`,
          );
    }
    if (r.database)
      this.say(`  database  ${r.database.url}: ${r.database.distributions} distribution(s) recorded`);
    return this.settle(r, nodes.length);
  }
}
