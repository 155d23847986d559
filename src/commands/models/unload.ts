import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { databaseFlags, MODELS_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import type { ChangeResult } from '../../services/models.js';

export default class ModelsUnload extends ModelsCommand {
  static override summary = 'Unload a model from GPU memory on every node (or one).';
  static override description = `Sends /api/generate with keep_alive 0, which unloads the model at once, then checks /api/ps that it is gone.

${MODELS_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models unload assist:1.0 --ollama http://gpu1:11434 --ollama http://gpu2:11434',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = {
    ...nodeFlags,
    ...databaseFlags,
    node: Flags.string({ summary: 'Only this node (an --ollama URL).' }),
  };

  async run(): Promise<ChangeResult> {
    const { args, flags } = await this.parse(ModelsUnload);
    return this.changeLoaded(args.model, flags, 0);
  }
}
