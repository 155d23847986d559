/** `models plan`: where each model goes so every node's loaded set fits its GPU memory. */
import { resolve } from 'node:path';
import { openBundle } from '../bundle/reader.js';
import { modelsError, specError } from '../lib/errors.js';
import { isVersionTag, selectModels } from '../models/history.js';
import type { ModelNode, NodeModel } from '../models/nodes.js';
import { placeModels, type Placement, type PlanNode } from '../models/plan.js';
import { estimateVram, VRAM_OVERHEAD, type VramEstimate } from '../models/vram.js';
import { eachNode } from './models.js';

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
        `name it with {flag:ollama} ${g.node} (or {flag:ollama-store})`,
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
    throw specError('no node’s GPU memory is known', 'pass {flag:gpu-memory} URL=24GiB for each node');

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
