/**
 * Writes small, valid GGUF v2/v3 files for tests, so no binary model is ever committed. Layout follows
 * the GGUF spec: header, metadata, tensor infos, padding to general.alignment, tensor data.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { GgufType, tensorDataSize } from '../../src/models/gguf.js';

export type GgufTypeName = keyof typeof GgufType;

/** A metadata value: strings and booleans as is, anything else with an explicit GGUF type. */
export type FixtureValue =
  | string
  | boolean
  | { type: Exclude<GgufTypeName, 'string' | 'bool' | 'array'>; value: number | bigint }
  | { array: GgufTypeName; values: Array<FixtureValue | number | bigint> };

export interface FixtureTensor {
  name: string;
  dims: number[];
  /** ggml tensor type id: 0 F32, 1 F16, 2 Q4_0, 8 Q8_0, 12 Q4_K... */
  type: number;
}

export interface GgufFixtureOptions {
  architecture?: string;
  fileType?: number;
  name?: string;
  license?: string;
  contextLength?: number;
  tensors?: FixtureTensor[];
  /** Extra metadata, written after the standard keys in insertion order. */
  kv?: Record<string, FixtureValue>;
  /** Total file size: pseudo-random bytes follow the tensor data, written in 4 MiB chunks. */
  padTo?: number;
  /** Seeds the padding bytes (default: the name, else the architecture): same seed, same file. */
  seed?: string;
  version?: 2 | 3;
}

const ALIGNMENT = 32;

/** Writes a GGUF file and returns its size in bytes. */
export async function writeGguf(path: string, opts: GgufFixtureOptions = {}): Promise<number> {
  const arch = opts.architecture ?? 'llama';
  const kv: Array<[string, FixtureValue]> = [['general.architecture', arch]];
  if (opts.name !== undefined) kv.push(['general.name', opts.name]);
  if (opts.fileType !== undefined) kv.push(['general.file_type', { type: 'uint32', value: opts.fileType }]);
  if (opts.license !== undefined) kv.push(['general.license', opts.license]);
  if (opts.contextLength !== undefined) {
    kv.push([`${arch}.context_length`, { type: 'uint32', value: opts.contextLength }]);
  }
  kv.push(['general.alignment', { type: 'uint32', value: ALIGNMENT }]);
  kv.push(...Object.entries(opts.kv ?? {}));

  const tensors = opts.tensors ?? [{ name: 'token_embd.weight', dims: [64, 32], type: 0 }];
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1'), u32(opts.version ?? 3)];
  parts.push(u64(tensors.length), u64(kv.length));
  for (const [key, value] of kv) parts.push(str(key), u32(typeOf(value)), encode(value));

  let dataSize = 0;
  for (const t of tensors) {
    const elements = t.dims.reduce((a, d) => a * BigInt(d), 1n);
    const bytes = Number(tensorDataSize(t.type, elements) ?? elements);
    parts.push(str(t.name), u32(t.dims.length), ...t.dims.map((d) => u64(d)), u32(t.type), u64(dataSize));
    dataSize += Math.ceil(bytes / ALIGNMENT) * ALIGNMENT;
  }
  const header = Buffer.concat(parts);
  const dataOffset = Math.ceil(header.length / ALIGNMENT) * ALIGNMENT;
  const minimum = dataOffset + dataSize;
  const total = opts.padTo ?? minimum;
  if (total < minimum) throw new Error(`padTo ${total} is smaller than the GGUF itself (${minimum} bytes)`);

  const fh = await open(path, 'w');
  try {
    await fh.write(Buffer.concat([header, Buffer.alloc(minimum - header.length)]));
    // Incompressible like real quantised weights, yet reproducible: an AES-CTR keystream from the seed.
    const key = createHash('sha256')
      .update(`gguf:${opts.seed ?? opts.name ?? arch}`)
      .digest();
    const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
    const zeros = Buffer.alloc(4 << 20);
    for (let written = minimum; written < total;) {
      const n = Math.min(zeros.length, total - written);
      await fh.write(cipher.update(zeros.subarray(0, n)));
      written += n;
    }
  } finally {
    await fh.close();
  }
  return total;
}

function typeOf(v: FixtureValue): number {
  if (typeof v === 'string') return GgufType.string;
  if (typeof v === 'boolean') return GgufType.bool;
  return 'array' in v ? GgufType.array : GgufType[v.type];
}

function encode(v: FixtureValue): Buffer {
  if (typeof v === 'string') return str(v);
  if (typeof v === 'boolean') return Buffer.from([v ? 1 : 0]);
  if (!('array' in v)) return scalar(v.type, v.value);
  // Nested arrays carry their own item type and count, which encode() of the inner value writes.
  const items = v.values.map((item) =>
    typeof item === 'number' || typeof item === 'bigint' ? scalar(v.array, item) : encode(item),
  );
  return Buffer.concat([u32(GgufType[v.array]), u64(v.values.length), ...items]);
}

function scalar(type: GgufTypeName, value: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  const n = Number(value);
  // prettier-ignore
  switch (type) {
    case 'uint8': b.writeUInt8(n); return b.subarray(0, 1);
    case 'int8': b.writeInt8(n); return b.subarray(0, 1);
    case 'uint16': b.writeUInt16LE(n); return b.subarray(0, 2);
    case 'int16': b.writeInt16LE(n); return b.subarray(0, 2);
    case 'uint32': b.writeUInt32LE(n); return b.subarray(0, 4);
    case 'int32': b.writeInt32LE(n); return b.subarray(0, 4);
    case 'float32': b.writeFloatLE(n); return b.subarray(0, 4);
    case 'uint64': b.writeBigUInt64LE(BigInt(value)); return b;
    case 'int64': b.writeBigInt64LE(BigInt(value)); return b;
    case 'float64': b.writeDoubleLE(n); return b;
    default: throw new Error(`not a numeric GGUF type: ${type}`);
  }
}

/** GGUF string: uint64 byte length, UTF-8 bytes, no terminator. */
export function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(bytes.length), bytes]);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export function u64(n: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
