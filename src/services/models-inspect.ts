/** `models inspect`: a GGUF header and the GPU memory the model needs, from a file or a node. */
import { stat } from 'node:fs/promises';
import { modelsError, specError } from '../lib/errors.js';
import { readGgufHeader } from '../models/gguf.js';
import { selectModels } from '../models/history.js';
import { parseModelName } from '../ollama/names.js';
import type { ModelNode } from '../models/nodes.js';
import { estimateVram, modelShape, type ModelShape, type VramEstimate } from '../models/vram.js';
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
      'pass {flag:ollama} URL or {flag:ollama-store} DIR',
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
