import { Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { listModels, type ListResult } from '../../services/models.js';

export default class ModelsList extends ModelsCommand {
  static override summary =
    'List the models on every node: size, family, quantization, context, VRAM, loaded, versions.';
  static override description = `Per node: each served model (name:tag) with its manifest digest, size, family, parameter size, quantization, context length, the estimated GPU memory it needs (weights + KV cache + 0.5 GiB), whether it is loaded (/api/ps; unknown for a models directory) and its version history (the immutable <tag>-<12 hex> tags every import writes). A node that is down is reported and the others are listed (exit 50).

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models list --ollama http://gpu1:11434 --ollama http://gpu2:11434',
    '<%= config.bin %> models list --ollama-store /var/lib/ollama/models --json',
  ];

  static override flags = {
    ...nodeFlags,
    model: Flags.string({ summary: 'Only this model (NAME or NAME:TAG); repeatable.', multiple: true }),
    context: Flags.integer({
      summary: 'Context length the VRAM estimate assumes (default: the model’s num_ctx, else 4096).',
      min: 1,
    }),
  };

  async run(): Promise<ListResult> {
    const { flags } = await this.parse(ModelsList);
    const nodes = this.nodes(flags);
    const r = await listModels(nodes, { names: flags.model, context: flags.context });
    for (const n of r.nodes) {
      this.say(`${n.node}${n.ok ? '' : `: FAILED (${n.error!.message})`}`);
      if (n.ok && n.models.length === 0) this.say('  (no models)');
      for (const m of n.models) {
        const loaded =
          m.loaded === null ? '' : m.loaded ? `  loaded until ${m.expiresAt ?? '?'}` : '  not loaded';
        const facts = [
          m.family,
          m.parameterSize,
          m.quantization,
          m.contextLength ? `ctx ${m.contextLength}` : null,
        ]
          .filter(Boolean)
          .join(' ');
        this.say(
          `  ${m.name.padEnd(28)} ${m.digest.slice(7, 19)}  ${formatBytes(m.size).padStart(9)}  ${facts || m.detailsError || ''}` +
            `${m.vram ? `  VRAM ~${formatBytes(m.vram.totalBytes)}` : ''}${loaded}`,
        );
        for (const v of m.versions)
          this.say(`      ${v.current ? '*' : ' '} ${v.tag.padEnd(28)} ${v.importedAt}`);
      }
    }
    return this.settle(r, nodes.length);
  }
}
