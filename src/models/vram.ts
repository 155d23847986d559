/**
 * How much GPU memory a model needs loaded: its weights, the KV cache at the context it runs with,
 * and a fixed allowance for the compute graph and CUDA context. The KV cache is
 * ctx × layers × (key + value head dims) × KV heads × bytes per element (f16: 2), the formula
 * llama.cpp allocates by; grouped-query attention (fewer KV heads) is what keeps it small.
 */
import type { GgufValue } from './gguf.js';

/** The compute graph, scratch buffers and CUDA context: ~0.5 GiB whatever the model. */
export const VRAM_OVERHEAD = 512 * 1024 * 1024;
/** Ollama's default context when the model's parameters set no num_ctx. */
export const DEFAULT_NUM_CTX = 4096;
/** f16 KV cache (OLLAMA_KV_CACHE_TYPE unset). */
export const KV_BYTES = 2;

export interface ModelShape {
  architecture: string;
  /** Maximum context the model was trained for (<arch>.context_length). */
  contextLength?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  /** Per-head key and value dimensions. */
  keyLength?: number;
  valueLength?: number;
  embeddingLength?: number;
}

export interface VramEstimate {
  /** Context the KV cache is sized for. */
  context: number;
  weightsBytes: number;
  /** null when the header lacks the layer/head counts needed. */
  kvCacheBytes: number | null;
  overheadBytes: number;
  totalBytes: number;
}

/** The shape fields of a GGUF header (or of /api/show model_info, which carries the same keys). */
export function modelShape(kv: ReadonlyMap<string, GgufValue | unknown>): ModelShape {
  const arch =
    typeof kv.get('general.architecture') === 'string'
      ? (kv.get('general.architecture') as string)
      : 'unknown';
  const num = (k: string) => {
    const v = kv.get(`${arch}.${k}`);
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    // Some architectures store per-layer head counts as arrays: the largest bounds the cache.
    if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number'))
      return Math.max(...(v as number[]));
    return undefined;
  };
  return {
    architecture: arch,
    contextLength: num('context_length'),
    layers: num('block_count'),
    heads: num('attention.head_count'),
    kvHeads: num('attention.head_count_kv'),
    keyLength: num('attention.key_length'),
    valueLength: num('attention.value_length'),
    embeddingLength: num('embedding_length'),
  };
}

/** The context the KV cache is sized for: the requested one, capped at what the model supports. */
export function effectiveContext(shape: ModelShape, requested?: number): number {
  const ctx = requested ?? DEFAULT_NUM_CTX;
  return shape.contextLength ? Math.min(ctx, shape.contextLength) : ctx;
}

export function estimateVram(
  shape: ModelShape,
  weightsBytes: number,
  requestedContext?: number,
): VramEstimate {
  const context = effectiveContext(shape, requestedContext);
  const { layers, heads } = shape;
  const kvHeads = shape.kvHeads ?? heads;
  const headDim = heads && shape.embeddingLength ? shape.embeddingLength / heads : undefined;
  const k = shape.keyLength ?? headDim;
  const v = shape.valueLength ?? headDim;
  const kvCacheBytes =
    layers && kvHeads && k && v ? Math.ceil(context * layers * (k + v) * kvHeads * KV_BYTES) : null;
  return {
    context,
    weightsBytes,
    kvCacheBytes,
    overheadBytes: VRAM_OVERHEAD,
    totalBytes: weightsBytes + (kvCacheBytes ?? 0) + VRAM_OVERHEAD,
  };
}

/** num_ctx from an Ollama params layer (JSON) or the /api/show "parameters" text ("num_ctx 8192"). */
export function numCtxOf(params: string | undefined): number | undefined {
  if (!params) return undefined;
  try {
    const v = (JSON.parse(params) as { num_ctx?: unknown }).num_ctx;
    return typeof v === 'number' && v > 0 ? v : undefined;
  } catch {
    const m = /^num_ctx\s+(\d+)\s*$/m.exec(params);
    return m ? Number(m[1]) : undefined;
  }
}
