import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP, specError } from '../../lib/errors.js';
import { databaseFlags, MODELS_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import type { ChangeResult } from '../../services/models.js';

/** "-1" and "3600" as numbers (seconds; negative: forever), durations (30m, 1h) as Ollama parses them. */
export function parseKeepAlive(v: string): string | number {
  if (/^-?\d+$/.test(v)) return Number(v);
  if (/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(v)) return v;
  throw specError(
    `--keep-alive ${v}: not a duration`,
    'write 30m, 1h, 3600 (seconds) or -1 (until unloaded)',
  );
}

export default class ModelsLoad extends ModelsCommand {
  static override summary = 'Load a model into GPU memory on every node (or one).';
  static override description = `Sends /api/generate with no prompt and keep_alive, which loads the model and keeps it loaded that long (-1: until unloaded), then checks /api/ps that it is loaded.

${MODELS_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models load assist:1.0 --ollama http://gpu1:11434 --ollama http://gpu2:11434',
    '<%= config.bin %> models load assist:1.0 --keep-alive 30m --node http://gpu1:11434',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = {
    ...nodeFlags,
    ...databaseFlags,
    'keep-alive': Flags.string({
      summary: 'How long it stays loaded: 30m, 1h, seconds, or -1 (until unloaded).',
      default: '-1',
    }),
    node: Flags.string({ summary: 'Only this node (an --ollama URL).' }),
  };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(ModelsLoad);
    const keepAlive = parseKeepAlive(flags['keep-alive']);
    return this.changeLoaded(args.model, flags, keepAlive);
  }
}
