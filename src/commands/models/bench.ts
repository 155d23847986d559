import { Args, Flags } from '@oclif/core';
import { EXIT_CODES_HELP, modelsError, specError } from '../../lib/errors.js';
import { databaseFlags, MODELS_DATABASE_DEFAULT } from '../../cli/database-flags.js';
import { ModelsCommand, nodeFlags } from '../../cli/models.js';
import { ApiNode } from '../../models/nodes.js';
import { ModelRecords } from '../../models/records.js';
import { benchModel, type BenchNodeResult } from '../../services/models-bench.js';
import type { NodeError } from '../../services/models.js';

type BenchResult = {
  model: string;
  nodes: BenchNodeResult[];
  failed: NodeError[];
  database: { url: string } | null;
};

export default class ModelsBench extends ModelsCommand {
  static override summary = 'Load-test a model through /api/generate: latency percentiles, tokens/s, errors.';
  static override description = `Sends --requests completions, --concurrency at a time, to each Ollama server holding the model (one node after another, or only --node), after one untimed warm-up request (--no-warmup to measure the load too), and reports p50/p95/p99 latency, tokens/s as the server measured it (eval_count / eval_duration), throughput over wall time, and errors (exit 55 if any). With --database-url, the figures go to performance_metrics and every request to ai_inference_logs.

${MODELS_DATABASE_DEFAULT}

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> models bench assist:1.0 --ollama http://gpu1:11434 --concurrency 4 --requests 100',
  ];

  static override args = { model: Args.string({ description: 'NAME[:TAG]', required: true }) };

  static override flags = {
    ...nodeFlags,
    ...databaseFlags,
    concurrency: Flags.integer({ summary: 'Requests in flight at once.', default: 4, min: 1, max: 256 }),
    requests: Flags.integer({ summary: 'Requests in all, per node.', default: 20, min: 1, max: 100000 }),
    prompt: Flags.string({
      summary: 'The prompt every request sends.',
      default: 'Explain in one paragraph what a Kubernetes pod is.',
    }),
    'num-predict': Flags.integer({
      summary: 'Tokens to generate per request (options.num_predict).',
      min: 1,
    }),
    node: Flags.string({ summary: 'Only this node (an --ollama URL).' }),
    warmup: Flags.boolean({
      summary: 'Send one untimed request first, so loading the weights is not measured.',
      default: true,
      allowNo: true,
    }),
  };

  async run(): Promise<BenchResult> {
    const { args, flags } = await this.parse(ModelsBench);
    let nodes = this.nodes(flags);
    if (flags.node) {
      const only = new ApiNode(flags.node);
      await only.close();
      nodes = nodes.filter((n) => n.id === only.id);
      if (nodes.length === 0)
        throw specError(`--node ${flags.node}: not one of the --ollama nodes`, `add --ollama ${flags.node}`);
    }
    const records = flags['database-url'] ? await ModelRecords.open(flags['database-url']) : undefined;
    let r;
    try {
      r = await benchModel(nodes, args.model, {
        concurrency: flags.concurrency,
        requests: flags.requests,
        prompt: flags.prompt,
        numPredict: flags['num-predict'],
        warmup: flags.warmup,
        records,
      });
    } finally {
      await records?.close();
    }
    const result: BenchResult = { ...r, database: records ? { url: records.url } : null };
    for (const n of r.nodes) {
      if (!n.summary) {
        this.say(`${n.node}: FAILED (${n.error?.message ?? '?'})`);
        continue;
      }
      const s = n.summary;
      this.say(
        `${n.node} ${n.model}: ${s.ok}/${s.requests} ok, concurrency ${s.concurrency}, ${s.wallSeconds} s`,
      );
      this.say(
        `  latency ms  p50 ${s.latencyMs.p50 ?? '-'}  p95 ${s.latencyMs.p95 ?? '-'}  p99 ${s.latencyMs.p99 ?? '-'}`,
      );
      this.say(
        `  tokens/s    ${s.tokensPerSecond ?? '-'} per stream, ${s.throughputTokensPerSecond ?? '-'} in all`,
      );
      if (s.errors) this.say(`  errors      ${s.errors}: ${s.errorMessages.join('; ')}`);
    }
    const errors = r.nodes.reduce((n, x) => n + (x.summary?.errors ?? 0), 0);
    if (r.failed.length === 0 && errors > 0) {
      if (this.jsonEnabled()) {
        process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        this.exit(55);
      }
      throw modelsError(
        'modelBench',
        `${errors} request(s) failed`,
        'see the errors above and the Ollama server log',
      );
    }
    return this.settle(result, r.nodes.length);
  }
}
