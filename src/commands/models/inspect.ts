import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { inspectModel, type InspectResult } from '../../services/models-inspect.js';

export default class ModelsInspect extends ModelsCommand {
  static override summary = 'Show a model’s GGUF header and the GPU memory it needs.';
  static override description = `For a .gguf file (only its header is read) or a model on a node: architecture, parameter count (from the tensor infos), file type (quantization), context length, layers, attention heads and KV heads, and the VRAM estimate: weights + KV cache at the context (context × layers × (key + value head dims) × KV heads × 2 bytes, f16) + 0.5 GiB for the compute graph and CUDA context.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models inspect ./llama3-8b-q4_k_m.gguf',
    '<%= config.bin %> models inspect assist:1.0 --ollama-store /var/lib/ollama/models --context 8192',
  ];

  static override args = {
    model: Args.string({ description: 'A .gguf file, or NAME[:TAG] on a node.', required: true }),
  };

  static override flags = {
    ...nodeFlags,
    context: Flags.integer({
      summary: 'Context length for the KV cache (default: the model’s num_ctx, else 4096).',
      min: 1,
    }),
  };

  async run(): Promise<InspectResult> {
    const { args, flags } = await this.parse(ModelsInspect);
    const r = await inspectModel(this.nodes(flags, true), args.model, flags.context);
    const v = r.vram;
    this.say(`${r.model ?? r.source}${r.model ? ` (on ${r.source})` : ''}`);
    this.say(`  architecture   ${r.architecture}`);
    this.say(
      `  parameters     ${r.parameterSize ?? '?'}${r.parameterCount !== null ? ` (${r.parameterCount})` : ''}`,
    );
    this.say(`  file type      ${r.fileType ?? '?'}`);
    this.say(`  context        ${r.contextLength ?? '?'}`);
    this.say(`  layers         ${r.layers ?? '?'}`);
    this.say(`  heads          ${r.heads ?? '?'} (KV heads ${r.kvHeads ?? '?'})`);
    this.say(
      `  VRAM           ~${formatBytes(v.totalBytes)} = weights ${formatBytes(v.weightsBytes)} + KV cache ${v.kvCacheBytes === null ? 'unknown' : formatBytes(v.kvCacheBytes)} at ctx ${v.context} + ${formatBytes(v.overheadBytes)}`,
    );
    return r;
  }
}
