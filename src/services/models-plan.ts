/**
 * `models inspect`, `models plan` and `models bench`: what a model needs, where models go, and how
 * fast a node serves one.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { openBundle } from '../bundle/reader.js';
import { modelsError, specError } from '../lib/errors.js';
import { runBench, type BenchSummary } from '../models/bench.js';
import { readGgufHeader } from '../models/gguf.js';
import { isVersionTag, selectModels } from '../models/history.js';
import { parseModelName } from '../models/names.js';
import type { ModelNode, NodeModel } from '../models/nodes.js';
import { placeModels, type Placement, type PlanNode } from '../models/plan.js';
import type { ModelRecords } from '../models/records.js';
import {
  estimateVram,
  modelShape,
  VRAM_OVERHEAD,
  type ModelShape,
  type VramEstimate,
} from '../models/vram.js';
import { eachNode, type NodeError } from './models.js';

export interface InspectResult {
  /** The file, or the node the model was read from. */
  source: string;
  model: string | null;
  architecture: string;
  parameterCount: number | null;
  parameterSize: string | null;
  fileType: string | null;
  contextLength: number | null;
  layers: number | null;
  heads: number | null;
  kvHeads: number | null;
  keyLength: number | null;
  valueLength: number | null;
  embeddingLength: number | null;
  ggufVersion: number | null;
  tensors: number | null;
  vram: VramEstimate;
}

const shapeFields = (s: ModelShape) => ({
  contextLength: s.contextLength ?? null,
  layers: s.layers ?? null,
  heads: s.heads ?? null,
  kvHeads: s.kvHeads ?? s.heads ?? null,
  keyLength: s.keyLength ?? null,
  valueLength: s.valueLength ?? null,
  embeddingLength: s.embeddingLength ?? null,
});

const isFile = (p: string) =>
  stat(p).then(
    (s) => s.isFile(),
    () => false,
  );

/** A .gguf file (header only: safe on a 70 GB file), or a model on the first node that holds it. */
export async function inspectModel(
  nodes: ModelNode[],
  what: string,
  context?: number,
): Promise<InspectResult> {
  if (what.endsWith('.gguf') || (await isFile(what))) {
    const g = await readGgufHeader(what);
    const shape = modelShape(g.kv);
    return {
      source: what,
      model: null,
      architecture: g.architecture,
      parameterCount: g.parameterCount,
      parameterSize: g.parameterSize,
      fileType: g.fileType,
      ...shapeFields(shape),
      ggufVersion: g.version,
      tensors: g.tensorCount,
      vram: estimateVram(shape, g.fileSize - g.dataOffset, context),
    };
  }
  if (!parseModelName(what))
    throw modelsError(
      'modelNotFound',
      `${what}: neither a file nor a model name`,
      'give a .gguf file or NAME[:TAG]',
    );
  if (nodes.length === 0)
    throw specError(
      `${what} is not a file: name the node that holds it`,
      'pass --ollama URL or --ollama-store DIR',
    );
  const errors: NodeError[] = [];
  for (const r of await eachNode(nodes, async (n) => ({ models: selectModels(await n.list(), what) }))) {
    if (r.error) {
      errors.push(r.error);
      continue;
    }
    const m = r.value!.models[0];
    if (!m) continue;
    const d = await r.node.details(m);
    return {
      source: r.node.label,
      model: m.display,
      architecture: d.shape.architecture !== 'unknown' ? d.shape.architecture : d.family,
      parameterCount: d.parameterCount ?? null,
      parameterSize: d.parameterSize || null,
      fileType: d.quantization || null,
      ...shapeFields(d.shape),
      ggufVersion: null,
      tensors: null,
      vram: estimateVram(d.shape, d.weightsBytes, context ?? d.numCtx),
    };
  }
  if (errors.length === nodes.length)
    throw modelsError('modelsPartial', errors[0]!.message, errors[0]!.fix ?? undefined);
  throw modelsError(
    'modelNotFound',
    `no node holds a model named ${what}`,
    'see what is there with kubechat models list',
  );
}

export interface PlanResult extends Placement {
  models: Array<{
    name: string;
    vramBytes: number;
    estimate: 'gguf' | 'weights-only';
    vram: VramEstimate | null;
  }>;
  /** Nodes left out: no --gpu-memory and nothing loaded to read size_vram from, or unreachable. */
  skipped: Array<{ node: string; reason: string }>;
  fits: boolean;
}

/** Whether --gpu-memory's NODE names this node: its URL (any spelling of the origin) or its directory. */
function sameNode(node: ModelNode, given: string): boolean {
  if (node.kind === 'store') return node.label === resolve(given);
  try {
    return new URL(/^[a-z]+:\/\//i.test(given) ? given : `http://${given}`).origin === node.label;
  } catch {
    return false;
  }
}

export async function planModels(
  nodes: ModelNode[],
  opts: { bundlePath?: string; gpuMemory: Array<{ node: string; bytes: number }>; context?: number },
): Promise<PlanResult> {
  for (const g of opts.gpuMemory)
    if (!nodes.some((n) => sameNode(n, g.node)))
      throw specError(
        `--gpu-memory ${g.node}: not one of the nodes given`,
        `name it with --ollama ${g.node} (or --ollama-store)`,
      );
  const inventory = await eachNode(nodes, async (n) => ({
    models: await n.list(),
    loaded: await n.loaded(),
  }));
  const skipped: PlanResult['skipped'] = [];
  const planNodes: PlanNode[] = [];
  for (const r of inventory) {
    const flag = opts.gpuMemory.find((g) => sameNode(r.node, g.node));
    if (flag) planNodes.push({ node: r.node.label, capacityBytes: flag.bytes, source: 'flag' });
    else if (r.error) skipped.push({ node: r.node.label, reason: r.error.message });
    else {
      const vram = (r.value!.loaded ?? []).reduce((n, l) => n + (l.sizeVram ?? 0), 0);
      if (vram > 0) planNodes.push({ node: r.node.label, capacityBytes: vram, source: 'api-ps' });
      else skipped.push({ node: r.node.label, reason: 'GPU memory unknown: pass --gpu-memory NODE=SIZE' });
    }
  }
  if (planNodes.length === 0)
    throw specError('no node’s GPU memory is known', 'pass --gpu-memory URL=24GiB for each node');

  // What to place: the bundle's models, or every serving model the nodes hold.
  const wanted: Array<{ name: string; size: number }> = [];
  if (opts.bundlePath) {
    const b = await openBundle(opts.bundlePath);
    for (const m of b.manifest.artifacts.models) wanted.push({ name: m.name, size: m.size });
    if (wanted.length === 0)
      throw modelsError(
        'modelNotFound',
        `${opts.bundlePath}: the bundle holds no models`,
        'pick a bundle whose spec lists models',
      );
  } else {
    const seen = new Set<string>();
    for (const r of inventory)
      for (const m of r.value?.models ?? [])
        if (!isVersionTag(m) && !seen.has(m.name)) {
          seen.add(m.name);
          wanted.push({ name: m.display, size: m.size });
        }
  }
  // The GGUF header, from any node that holds the model, sizes the KV cache.
  const models: PlanResult['models'] = [];
  for (const w of wanted) {
    let vram: VramEstimate | null = null;
    for (const r of inventory) {
      const m: NodeModel | undefined = r.value ? selectModels(r.value.models, w.name)[0] : undefined;
      if (!m) continue;
      try {
        const d = await r.node.details(m);
        vram = estimateVram(d.shape, d.weightsBytes, opts.context ?? d.numCtx);
        break;
      } catch {
        // try the next node
      }
    }
    models.push({
      name: w.name,
      vramBytes: vram?.totalBytes ?? w.size + VRAM_OVERHEAD,
      estimate: vram && vram.kvCacheBytes !== null ? 'gguf' : 'weights-only',
      vram,
    });
  }
  const placement = placeModels(models, planNodes);
  return { ...placement, models, skipped, fits: placement.unplaced.length === 0 };
}

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
      'pass --ollama URL',
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
