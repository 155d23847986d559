/**
 * GGUF header reader (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md). Weights files reach
 * tens of GiB, so only the header is read: metadata and tensor infos, through a bounded positional
 * buffer. Every length and count is checked against the file size before anything is allocated, so
 * a corrupt or hostile header fails with a sourceError instead of exhausting memory.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { describeFsError, sourceError } from '../lib/errors.js';

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufInfo {
  version: 2 | 3;
  tensorCount: number;
  /** Small metadata only: strings over 1 MiB and arrays over 1024 items (vocabularies) are left out. */
  kv: Map<string, GgufValue>;
  /** general.architecture, "unknown" when absent (as Ollama reports it). */
  architecture: string;
  /** general.file_type as llama.cpp names it (Q4_K_M...), "unknown" when absent or not in the table. */
  fileType: string;
  fileTypeId: number | undefined;
  /** general.type ("model", "adapter", "projector"...) when present. */
  kind: string | undefined;
  parameterCount: number;
  /** Ollama's format.HumanNumber of parameterCount, e.g. "8.0B", "135.27M". */
  parameterSize: string;
  contextLength: number | undefined;
  license: string | undefined;
  alignment: number;
  /** Offset of the tensor data section. */
  dataOffset: number;
  fileSize: number;
}

// llama_ftype ids, as Ollama's fs/ggml FileType.String() names them (3-6 and 33-35 are retired).
// prettier-ignore
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S',
  12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K',
  19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL',
  26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16', 36: 'TQ1_0',
  37: 'TQ2_0', 38: 'MXFP4_MOE', 39: 'NVFP4', 40: 'Q1_0',
};

/** ggml tensor type id → [elements per block, bytes per block]; used to spot files cut short. */
// prettier-ignore
const TENSOR_TYPES: Record<number, [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110], 22: [256, 82],
  23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8], 29: [256, 56], 30: [1, 2],
  34: [256, 54], 35: [256, 66], 39: [32, 17], 40: [64, 36], 41: [128, 18],
};

/** Bytes a tensor of `type` with `elements` elements occupies, or undefined for a type not in the table. */
export function tensorDataSize(type: number, elements: bigint): bigint | undefined {
  const t = TENSOR_TYPES[type];
  return t ? (elements / BigInt(t[0])) * BigInt(t[1]) : undefined;
}

// prettier-ignore
export const GgufType = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9,
  uint64: 10, int64: 11, float64: 12,
} as const;

const FIXED_SIZE = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
// Limits as in Ollama's fs/gguf; past them the header is corrupt, not big.
const MAX_STRING = 16 << 20;
const MAX_ARRAY = 64 << 20;
const MAX_DIMS = 4;
const MAX_DEPTH = 8;
const KEEP_STRING = 1 << 20;
const KEEP_ARRAY = 1024;

/** Buffered positional reader: the header is walked once, forward, never more than 1 MiB held. */
class HeaderReader {
  pos = 0;
  private buf = Buffer.alloc(1 << 20);
  private start = 0;
  private end = 0;
  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
    private readonly label: string,
  ) {}

  /** Makes [pos, pos+n) available in the buffer (n <= 1 MiB) and returns its index there. */
  private async need(n: number): Promise<number> {
    if (this.pos + n > this.size) {
      throw sourceError(
        `${this.label}: truncated GGUF header (needs ${n} bytes at offset ${this.pos}, file has ${this.size})`,
        'the file is incomplete or corrupt: download or export it again',
      );
    }
    if (this.pos < this.start || this.pos + n > this.end) {
      this.start = this.end = this.pos;
      while (this.end - this.start < n) {
        const want = Math.min(this.buf.length, this.size - this.start) - (this.end - this.start);
        const { bytesRead } = await this.fh.read(this.buf, this.end - this.start, want, this.end);
        if (bytesRead === 0) throw this.corrupt('file shrank while being read');
        this.end += bytesRead;
      }
    }
    return this.pos - this.start;
  }

  async bytes(n: number): Promise<Buffer> {
    const at = await this.need(n);
    this.pos += n;
    return Buffer.from(this.buf.subarray(at, at + n));
  }

  async scalar(type: number): Promise<number | bigint | boolean> {
    const at = await this.need(FIXED_SIZE[type] ?? 0);
    this.pos += FIXED_SIZE[type] ?? 0;
    const b = this.buf;
    // prettier-ignore
    switch (type) {
      case GgufType.uint8: return b.readUInt8(at);
      case GgufType.int8: return b.readInt8(at);
      case GgufType.uint16: return b.readUInt16LE(at);
      case GgufType.int16: return b.readInt16LE(at);
      case GgufType.uint32: return b.readUInt32LE(at);
      case GgufType.int32: return b.readInt32LE(at);
      case GgufType.float32: return b.readFloatLE(at);
      case GgufType.bool: return b.readUInt8(at) !== 0;
      case GgufType.uint64: return small(b.readBigUInt64LE(at));
      case GgufType.int64: return small(b.readBigInt64LE(at));
      default: return b.readDoubleLE(at);
    }
  }

  async u32(): Promise<number> {
    return (await this.scalar(GgufType.uint32)) as number;
  }

  async u64(): Promise<bigint> {
    const at = await this.need(8);
    this.pos += 8;
    return this.buf.readBigUInt64LE(at);
  }

  /** Reads a string, or skips it (returns undefined) when longer than `keep` bytes. */
  async string(what: string, keep = KEEP_STRING): Promise<string | undefined> {
    const len = await this.u64();
    if (len > BigInt(MAX_STRING) || this.pos + Number(len) > this.size) {
      throw this.corrupt(`${what} claims a length of ${len} bytes`);
    }
    const n = Number(len);
    if (n > keep) {
      this.pos += n;
      return undefined;
    }
    const at = await this.need(n);
    this.pos += n;
    return this.buf.toString('utf8', at, at + n);
  }

  /** A metadata value, or undefined when too big to keep (or !keep): then it is skipped, not materialised. */
  async value(type: number, key: string, keep = true, depth = 0): Promise<GgufValue | undefined> {
    if (type === GgufType.string) return this.string(`value of ${key}`, keep ? KEEP_STRING : -1);
    if (type !== GgufType.array) {
      if (FIXED_SIZE[type] === undefined) throw this.corrupt(`${key} has unknown value type ${type}`);
      return this.scalar(type);
    }
    if (depth >= MAX_DEPTH) throw this.corrupt(`${key} nests arrays more than ${MAX_DEPTH} deep`);
    const itemType = await this.u32();
    const count = await this.u64();
    const minItem =
      itemType === GgufType.string ? 8 : itemType === GgufType.array ? 12 : (FIXED_SIZE[itemType] ?? 0);
    if (minItem === 0) throw this.corrupt(`${key} has unknown array item type ${itemType}`);
    if (count > BigInt(MAX_ARRAY) || this.pos + Number(count) * minItem > this.size) {
      throw this.corrupt(`${key} claims ${count} array items`);
    }
    const n = Number(count);
    const keepItems = keep && n <= KEEP_ARRAY;
    if (!keepItems && itemType !== GgufType.string && itemType !== GgufType.array) {
      this.pos += n * minItem; // fixed-size items: skip without reading
      return undefined;
    }
    const items: GgufValue[] = [];
    for (let i = 0; i < n; i++) {
      const v = await this.value(itemType, key, keepItems, depth + 1);
      if (v !== undefined) items.push(v);
    }
    return keepItems && items.length === n ? items : undefined;
  }

  corrupt(what: string) {
    return sourceError(
      `${this.label}: corrupt GGUF header at offset ${this.pos}: ${what}`,
      'the file is damaged or not a GGUF model: download or export it again',
    );
  }
}

/** 64-bit integers become numbers when exact, so callers compare them like the other integer types. */
const small = (v: bigint): number | bigint => (v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Reads the header of the GGUF file at `path`; `label` names it in errors (defaults to `path`). */
export async function readGgufHeader(path: string, label = path): Promise<GgufInfo> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw describeFsError(err, label, 'read') ?? err;
  }
  try {
    const size = (await fh.stat()).size;
    return await parse(new HeaderReader(fh, size, label), label);
  } catch (err) {
    throw describeFsError(err, label, 'read') ?? err;
  } finally {
    await fh.close();
  }
}

async function parse(r: HeaderReader, label: string): Promise<GgufInfo> {
  const fix = 'point at a .gguf model file (convert other formats with llama.cpp convert_hf_to_gguf.py)';
  if (r.size < 4) throw sourceError(`${label}: not a GGUF file (only ${r.size} bytes)`, fix);
  const magic = (await r.bytes(4)).toString('latin1');
  if (magic !== 'GGUF') {
    const shown = `"${magic.replace(/[^\x20-\x7e]|["\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;
    throw sourceError(`${label}: not a GGUF file (magic ${shown}, expected "GGUF")`, fix);
  }
  const versionBytes = await r.bytes(4);
  const version = versionBytes.readUInt32LE();
  if (version !== 2 && version !== 3) {
    // A big-endian file stores its version byte-swapped: 3 reads as 0x03000000.
    const bigEndian = [1, 2, 3].includes(versionBytes.readUInt32BE());
    throw sourceError(
      bigEndian
        ? `${label}: big-endian GGUF is not supported`
        : `${label}: unsupported GGUF version ${version} (kubechat reads versions 2 and 3)`,
      'convert the model again with a current llama.cpp (little-endian GGUF v3)',
    );
  }
  const tensorCount = await r.u64();
  const kvCount = await r.u64();
  // Smallest possible entries: a kv is 13 bytes (empty key, type, 1-byte value), a tensor info 24.
  if (kvCount * 13n > BigInt(r.size)) throw r.corrupt(`claims ${kvCount} metadata entries`);
  if (tensorCount * 24n > BigInt(r.size)) throw r.corrupt(`claims ${tensorCount} tensors`);

  const kv = new Map<string, GgufValue>();
  for (let i = 0n; i < kvCount; i++) {
    const key = (await r.string('metadata key', 65535)) ?? '';
    if (key === '') throw r.corrupt('metadata key is empty or longer than 65535 bytes');
    const v = await r.value(await r.u32(), key);
    if (v !== undefined) kv.set(key, v);
  }

  const tensors: Array<{ name: string; elements: bigint; type: number; offset: bigint }> = [];
  let parameters = 0n;
  for (let i = 0n; i < tensorCount; i++) {
    const name = (await r.string('tensor name', 65535)) ?? '';
    const dims = await r.u32();
    if (dims > MAX_DIMS) throw r.corrupt(`tensor ${JSON.stringify(name)} has ${dims} dimensions`);
    let elements = 1n;
    for (let d = 0; d < dims; d++) elements *= await r.u64();
    const type = await r.u32();
    const offset = await r.u64();
    tensors.push({ name, elements, type, offset });
    parameters += elements;
  }

  const alignment = kv.get('general.alignment') ?? 32;
  if (typeof alignment !== 'number' || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw r.corrupt(`general.alignment ${String(alignment)} is not a power of two`);
  }
  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  for (const t of tensors) {
    const bytes = tensorDataSize(t.type, t.elements);
    const end = BigInt(dataOffset) + t.offset + (bytes ?? 0n);
    if (end > BigInt(r.size)) {
      throw sourceError(
        `${label}: truncated GGUF file: tensor ${JSON.stringify(t.name)} ends at byte ${end}, file has ${r.size}`,
        'the file is incomplete: download or export it again',
      );
    }
  }

  const str = (k: string) => (typeof kv.get(k) === 'string' ? (kv.get(k) as string) : undefined);
  const int = (k: string) => (typeof kv.get(k) === 'number' ? (kv.get(k) as number) : undefined);
  const architecture = str('general.architecture') ?? 'unknown';
  const fileTypeId = int('general.file_type');
  // Ollama counts parameters from the tensor infos; general.parameter_count only covers tensor-less files.
  const declared = kv.get('general.parameter_count');
  const fallback = typeof declared === 'number' || typeof declared === 'bigint' ? Number(declared) : 0;
  const parameterCount = tensorCount > 0n ? Number(parameters) : fallback;
  return {
    version,
    tensorCount: Number(tensorCount),
    kv,
    architecture,
    fileType: (fileTypeId !== undefined && FILE_TYPES[fileTypeId]) || 'unknown',
    fileTypeId,
    kind: str('general.type'),
    parameterCount,
    parameterSize: humanNumber(parameterCount),
    contextLength: int(`${architecture}.context_length`),
    license: str('general.license'),
    alignment,
    dataOffset,
    fileSize: r.size,
  };
}

/** Ollama's format.HumanNumber: "8B" (whole), "8.0B" (8.03e9), "2.8B", "135.27M", "12K", "999". */
export function humanNumber(n: number): string {
  const units: Array<[number, string, number]> = [
    [1e9, 'B', 1],
    [1e6, 'M', 2],
    [1e3, 'K', 0],
  ];
  for (const [scale, unit, decimals] of units) {
    if (n < scale) continue;
    const x = n / scale;
    return `${x === Math.floor(x) ? x.toFixed(0) : goFixed(x, decimals)}${unit}`;
  }
  return String(n);
}

/** Go's %.Nf: correctly rounded like toFixed, except exact ties go to the even digit (toFixed rounds up). */
export function goFixed(x: number, decimals: number): string {
  const exact = x.toFixed(100); // the double's exact decimal expansion, padded
  const cut = exact.indexOf('.') + (decimals > 0 ? decimals + 1 : 0);
  const kept = exact.slice(0, cut);
  const rest = exact.slice(decimals > 0 ? cut : cut + 1);
  const lastDigit = Number(kept[kept.length - 1]);
  return /^50*$/.test(rest) && lastDigit % 2 === 0 ? kept : x.toFixed(decimals);
}
