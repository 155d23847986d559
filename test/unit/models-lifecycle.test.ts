import { describe, expect, it } from 'vitest';
import { percentile, runBench, summarize } from '../../src/models/bench.js';
import { rollbackTarget, selectModels, versionsOf } from '../../src/models/history.js';
import { parseModelName, splitVersionTag } from '../../src/ollama/names.js';
import type { NodeModel } from '../../src/models/nodes.js';
import { parseGpuMemory, placeModels } from '../../src/models/plan.js';
import { estimateVram, modelShape, numCtxOf, VRAM_OVERHEAD } from '../../src/models/vram.js';
import { selectBundleModels } from '../../src/services/models-import.js';
import { KubechatError } from '../../src/lib/errors.js';

const GiB = 1024 ** 3;
const hex = (c: string) => c.repeat(64);

function model(name: string, digestChar: string, at: string): NodeModel {
  const parts = parseModelName(name)!;
  return {
    name: `${parts.host}/${parts.namespace}/${parts.model}:${parts.tag}`,
    display: name,
    parts,
    digest: `sha256:${hex(digestChar)}`,
    size: 100,
    modifiedAt: at,
  };
}

describe('model names', () => {
  it('Given Ollama short, namespaced and host names, Then they resolve with Ollama defaults', () => {
    expect(parseModelName('assist')).toEqual({
      host: 'registry.ollama.ai',
      namespace: 'library',
      model: 'assist',
      tag: 'latest',
    });
    expect(parseModelName('team/coder:2')).toMatchObject({ namespace: 'team', model: 'coder', tag: '2' });
    expect(parseModelName('reg.local:5000/ai/llm:1.0')).toEqual({
      host: 'reg.local:5000',
      namespace: 'ai',
      model: 'llm',
      tag: '1.0',
    });
    expect(parseModelName('a/b/c/d:1')).toBeUndefined();
    expect(parseModelName('../x:1')).toBeUndefined();
    expect(splitVersionTag('1.0-0123456789ab')).toEqual({ serving: '1.0', short: '0123456789ab' });
    expect(splitVersionTag('1.0')).toBeUndefined();
  });
});

describe('versions and rollback', () => {
  const v1 = model('assist:1.0-aaaaaaaaaaaa', 'a', '2026-01-01T00:00:00.000Z');
  const v2 = model('assist:1.0-bbbbbbbbbbbb', 'b', '2026-02-01T00:00:00.000Z');
  const v3 = model('assist:1.0-cccccccccccc', 'c', '2026-03-01T00:00:00.000Z');
  const serving = model('assist:1.0', 'b', '2026-02-01T00:00:00.000Z');
  const other = model('assist:2.0-dddddddddddd', 'd', '2026-01-15T00:00:00.000Z');
  const all = [serving, v3, v1, v2, other];

  it('Given three version tags, Then history is oldest first with the serving one current', () => {
    const versions = versionsOf(all, serving);
    expect(versions.map((v) => [v.tag, v.current])).toEqual([
      ['1.0-aaaaaaaaaaaa', false],
      ['1.0-bbbbbbbbbbbb', true],
      ['1.0-cccccccccccc', false],
    ]);
  });

  it('Given no --to, Then rollback picks the version before the current; --to takes a tag, its hex or a prefix', () => {
    const versions = versionsOf(all, serving);
    expect(rollbackTarget(versions, serving).tag).toBe('1.0-aaaaaaaaaaaa');
    expect(rollbackTarget(versions, serving, 'cccc').tag).toBe('1.0-cccccccccccc');
    expect(rollbackTarget(versions, serving, 'assist:1.0-aaaaaaaaaaaa').tag).toBe('1.0-aaaaaaaaaaaa');
    const err = (() => {
      try {
        rollbackTarget(versions, serving, 'ffff');
      } catch (e) {
        return e as KubechatError;
      }
    })();
    expect(err?.exitCode).toBe(53);
    const first = { ...serving, digest: v1.digest };
    expect(() => rollbackTarget(versionsOf(all, first), first)).toThrow(/no version before/);
  });

  it('Given a name without a tag, Then every serving tag is selected and no version tag', () => {
    expect(selectModels(all, 'assist').map((m) => m.display)).toEqual(['assist:1.0']);
    expect(selectModels(all, 'assist:1.0-cccccccccccc').map((m) => m.display)).toEqual([
      'assist:1.0-cccccccccccc',
    ]);
    expect(selectModels(all, 'other:1')).toEqual([]);
  });
});

describe('VRAM estimate', () => {
  it('Given a GQA model, Then KV cache = ctx × layers × (k+v) × kv_heads × 2 and 0.5 GiB is added', () => {
    const shape = modelShape(
      new Map<string, unknown>([
        ['general.architecture', 'llama'],
        ['llama.context_length', 131072],
        ['llama.block_count', 32],
        ['llama.embedding_length', 4096],
        ['llama.attention.head_count', 32],
        ['llama.attention.head_count_kv', 8],
      ]),
    );
    const e = estimateVram(shape, 4 * GiB, 8192);
    expect(e.kvCacheBytes).toBe(8192 * 32 * 256 * 8 * 2); // 1 GiB, as llama.cpp allocates for Llama 3 8B at 8k
    expect(e.totalBytes).toBe(4 * GiB + GiB + VRAM_OVERHEAD);
    // Explicit key/value lengths win over embedding/heads; without the counts the cache is unknown.
    const mla = modelShape(
      new Map<string, unknown>([
        ['general.architecture', 'x'],
        ['x.block_count', 2],
        ['x.attention.head_count', 4],
        ['x.attention.key_length', 192],
        ['x.attention.value_length', 128],
      ]),
    );
    expect(estimateVram(mla, 0, 100).kvCacheBytes).toBe(100 * 2 * (192 + 128) * 4 * 2);
    expect(estimateVram(modelShape(new Map()), 10, 100)).toMatchObject({
      kvCacheBytes: null,
      totalBytes: 10 + VRAM_OVERHEAD,
    });
  });

  it('Given num_ctx in a params layer or /api/show parameters, Then it is read', () => {
    expect(numCtxOf('{"num_ctx": 8192, "stop": ["x"]}')).toBe(8192);
    expect(numCtxOf('stop "<|eot|>"\nnum_ctx 16384')).toBe(16384);
    expect(numCtxOf(undefined)).toBeUndefined();
  });
});

describe('placement', () => {
  it('Given models and nodes, Then the largest goes first onto the node with most memory left, and misfits are named', () => {
    const p = placeModels(
      [
        { name: 'small', vramBytes: 2 * GiB },
        { name: 'big', vramBytes: 20 * GiB },
        { name: 'mid', vramBytes: 10 * GiB },
        { name: 'huge', vramBytes: 100 * GiB },
        { name: 'late', vramBytes: 14 * GiB },
      ],
      [
        { node: 'a', capacityBytes: 24 * GiB, source: 'flag' },
        { node: 'b', capacityBytes: 16 * GiB, source: 'flag' },
      ],
    );
    expect(p.nodes.map((n) => n.models)).toEqual([['big', 'small'], ['late']]);
    expect(p.unplaced.map((u) => [u.name, u.reason])).toEqual([
      ['huge', 'larger than any node’s GPU memory'],
      ['mid', 'no node has enough memory left'],
    ]);
    expect(parseGpuMemory('http://gpu1:11434=24GiB')).toEqual({ node: 'http://gpu1:11434', bytes: 24 * GiB });
    expect(parseGpuMemory('http://gpu1:11434')).toBeUndefined();
    expect(parseGpuMemory('gpu1=0')).toBeUndefined();
  });
});

describe('bench', () => {
  it('Given latencies, Then percentiles are nearest-rank and tokens/s comes from eval stats', async () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([], 50)).toBeNull();
    let n = 0;
    let inFlight = 0;
    let most = 0;
    const { summary } = await runBench(
      async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
        if (++n % 4 === 0) throw new Error('boom');
        return { tokens: 10, evalNs: 5e6 };
      },
      { requests: 12, concurrency: 3 },
    );
    expect(most).toBe(3);
    expect([summary.requests, summary.ok, summary.errors, summary.errorMessages]).toEqual([
      12,
      9,
      3,
      ['boom'],
    ]);
    expect(summary.tokensPerSecond).toBe(2000);
    const s = summarize([{ ok: true, latencyMs: 10, tokens: 0, evalNs: 0 }], 1, 1);
    expect([s.tokensPerSecond, s.throughputTokensPerSecond]).toEqual([null, null]);
  });
});

describe('bundle model selection', () => {
  const models = [
    { name: 'assist:1.0', ref: 'registry.ollama.ai/library/assist:1.0' },
    { name: 'assist:2.0', ref: 'registry.ollama.ai/library/assist:2.0' },
    { name: 'coder:1', ref: 'registry.ollama.ai/library/coder:1' },
  ];
  it('Given names with and without tags, Then they select; an unknown one is exit 51', () => {
    expect(selectBundleModels(models).length).toBe(3);
    expect(selectBundleModels(models, ['assist']).map((m) => m.name)).toEqual(['assist:1.0', 'assist:2.0']);
    expect(selectBundleModels(models, ['coder:1', 'assist:2.0']).map((m) => m.name)).toEqual([
      'coder:1',
      'assist:2.0',
    ]);
    expect(() => selectBundleModels(models, ['assist:3'])).toThrow(/no model named assist:3/);
    expect(() => selectBundleModels([], undefined)).toThrow(/holds no models/);
  });
});
