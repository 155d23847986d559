import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP, modelsError, specError } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { parseGpuMemory } from '../../models/plan.js';
import { planModels, type PlanResult } from '../../services/models-plan.js';

export default class ModelsPlan extends ModelsCommand {
  static override summary = 'Place models on nodes so each node’s loaded set fits its GPU memory.';
  static override description = `Each model needs its estimated VRAM (weights + KV cache at its context + 0.5 GiB; from the GGUF header when a node holds the model, else weights + 0.5 GiB). Each node offers --gpu-memory NODE=SIZE, or, without it, what /api/ps reports loaded now (size_vram: a lower bound). Models go largest first onto the node with the most memory left; what fits nowhere is listed and the exit code is 54. Plans the bundle's models, or without a bundle every model on the nodes.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models plan demo-1.0.0.kcb.tar.zst --ollama http://gpu1:11434 --ollama http://gpu2:11434 --gpu-memory http://gpu1:11434=24GiB --gpu-memory http://gpu2:11434=48GiB',
  ];

  static override args = {
    bundle: Args.string({ description: 'Plan this bundle’s models (default: the models on the nodes).' }),
  };

  static override flags = {
    ...nodeFlags,
    'gpu-memory': Flags.string({
      summary: 'GPU memory of a node: URL=24GiB (or DIR=24GiB); repeatable.',
      multiple: true,
    }),
    context: Flags.integer({
      summary: 'Context length every model is planned at (default: its num_ctx, else 4096).',
      min: 1,
    }),
  };

  async run(): Promise<PlanResult> {
    const { args, flags } = await this.parse(ModelsPlan);
    const gpuMemory = (flags['gpu-memory'] ?? []).map((g) => {
      const p = parseGpuMemory(g);
      if (!p) throw specError(`--gpu-memory ${g}: not NODE=SIZE`, 'write it as http://gpu1:11434=24GiB');
      return p;
    });
    const r = await planModels(this.nodes(flags), {
      bundlePath: args.bundle,
      gpuMemory,
      context: flags.context,
    });
    for (const n of r.nodes) {
      this.say(
        `${n.node}: ${formatBytes(n.usedBytes)} of ${formatBytes(n.capacityBytes)}${n.source === 'api-ps' ? ' (from /api/ps)' : ''}`,
      );
      for (const m of n.models) this.say(`  ${m}`);
    }
    for (const s of r.skipped) this.say(`${s.node}: not planned (${s.reason})`);
    for (const u of r.unplaced)
      this.say(`does not fit: ${u.name} (~${formatBytes(u.vramBytes)}): ${u.reason}`);
    if (!r.fits) {
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        this.exit(54);
      }
      throw modelsError(
        'modelPlacement',
        `${r.unplaced.length} model(s) fit on no node`,
        'add GPU memory or nodes, or plan fewer models',
      );
    }
    return r;
  }
}
