/** `models bench`: a load test of one model on each Ollama server that holds it. */
import { modelsError } from '../lib/errors.js';
import { runBench, type BenchSummary } from '../models/bench.js';
import { isVersionTag, selectModels } from '../models/history.js';
import type { ModelNode } from '../models/nodes.js';
import type { ModelRecords } from '../models/records.js';
import { eachNode, type NodeError } from './models.js';

export interface BenchNodeResult {
  node: string;
  model: string;
  ok: boolean;
  error: NodeError | null;
  summary: BenchSummary | null;
  recorded: { metrics: number; logs: number } | null;
}

export async function benchModel(
  nodes: ModelNode[],
  name: string,
  opts: {
    concurrency: number;
    requests: number;
    prompt: string;
    numPredict?: number;
    /** One untimed request first (default true). */
    warmup?: boolean;
    records?: ModelRecords;
  },
): Promise<{ model: string; nodes: BenchNodeResult[]; failed: NodeError[] }> {
  const apis = nodes.filter((n) => n.kind === 'api');
  if (apis.length === 0)
    throw modelsError(
      'modelNodeKind',
      'models bench sends requests to Ollama: it needs a server',
      'pass {flag:ollama} URL',
    );
  const out: BenchNodeResult[] = [];
  const failed: NodeError[] = [];
  // One node after another: nodes benchmarked at once would share this machine's network and CPU.
  for (const node of apis) {
    const r = (
      await eachNode([node], async (n) => {
        const m = selectModels(await n.list(), name).find((x) => !isVersionTag(x));
        if (!m) return undefined;
        const options = opts.numPredict ? { num_predict: opts.numPredict } : undefined;
        // Every request sets the model's keep-alive: a model pinned with `models load` (-1) stays
        // pinned; otherwise the server's default applies, as for any client.
        const before = ((await n.loaded()) ?? []).find((l) => l.name === m.name);
        const pinned = before?.expiresAt
          ? Date.parse(before.expiresAt) - Date.now() > 365 * 86_400_000
          : false;
        const keepAlive = pinned ? -1 : undefined;
        // One untimed request first: loading the weights is not what a load test measures.
        // A failed warm-up is not fatal: if the model cannot serve, the timed requests say so.
        if (opts.warmup !== false)
          await n.generate(m, opts.prompt, options, keepAlive).catch(() => undefined);
        const run = await runBench(
          async () => {
            const s = await n.generate(m, opts.prompt, options, keepAlive);
            return { tokens: s.evalCount, evalNs: s.evalDurationNs };
          },
          { requests: opts.requests, concurrency: opts.concurrency },
        );
        const recorded = opts.records
          ? await opts.records.bench(m.display, n.label, opts.prompt, run.summary, run.results)
          : null;
        return { model: m.display, summary: run.summary, recorded };
      })
    )[0]!;
    if (r.error) failed.push(r.error);
    if (r.error || r.value)
      out.push({
        node: node.label,
        model: r.value?.model ?? name,
        ok: !r.error,
        error: r.error ?? null,
        summary: r.value?.summary ?? null,
        recorded: r.value?.recorded ?? null,
      });
  }
  if (out.length === 0)
    throw modelsError(
      'modelNotFound',
      `no Ollama server holds a model named ${name}`,
      'see what is there with kubechat models list',
    );
  return { model: name, nodes: out, failed };
}
