/**
 * kubechat models against real Ollama models directories and Ollama API doubles (one per node):
 * import from signed bundles, list, history and rollback across two nodes, load/unload, verify after
 * a corrupted blob and repair from the bundle, remove with shared blobs, plan, bench, a node that is
 * down, and the database records.
 */
import { mkdtemp, open, readFile, readdir, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat } from '../support/cli.js';
import { writeGguf } from '../support/gguf-fixture.js';
import { conforms } from '../support/install-fixture.js';
import { OllamaDouble } from '../support/ollama-double.js';
import { freshDatabase, type TestDatabase } from '../support/postgres.js';
import { makeCertificates } from '../support/registry.js';
import { makeWorkspace, type Workspace } from '../support/workspace.js';
import { verifyOllamaStore } from '../../src/models/verify.js';

const PASS = 'models-test-passphrase';
let ws: Workspace;
let dir: string;
let pub: string;
const bundles: Record<string, string> = {};
const nodes: OllamaDouble[] = [];
let store: string;
let db: TestDatabase;

const env = () => ({ KUBECHAT_STATE_DIR: join(dir, 'state'), KUBECHAT_TRUST_DIR: join(dir, 'trust') });
const models = (args: string[]) => kubechat(['models', ...args], { env: env() });
const json = <T>(stdout: string) => JSON.parse(stdout) as T;
const apiFlags = () => nodes.flatMap((n) => ['--ollama', n.url]);

async function create(version: string, sources: Parameters<Workspace['spec']>[1], sign = true) {
  const spec = await ws.spec(version, sources);
  const r = await kubechat(
    [
      'bundle',
      'create',
      '-f',
      spec,
      '-o',
      join(ws.dir, `out-${version}`),
      '--json',
      ...(sign ? ['--key', join(ws.dir, 'release.key')] : []),
    ],
    { env: { KUBECHAT_KEY_PASSPHRASE: PASS } },
  );
  expect(r.code, r.stderr).toBe(0);
  return json<{ bundle: string }>(r.stdout).bundle;
}

beforeAll(async () => {
  ws = await makeWorkspace();
  dir = await mkdtemp(join(tmpdir(), 'kubechat-models-'));
  const k = await kubechat(['keys', 'generate', '--out', join(ws.dir, 'release')], {
    env: { KUBECHAT_KEY_PASSPHRASE: PASS },
  });
  expect(k.code, k.stderr).toBe(0);
  pub = join(ws.dir, 'release.pub');
  bundles.v1 = await create('1.0.0', {});
  bundles.v2 = await create('1.1.0', {
    ggufSize: 3 * 1024 * 1024,
    ggufKv: {
      'llama.block_count': { type: 'uint32', value: 32 },
      'llama.embedding_length': { type: 'uint32', value: 4096 },
      'llama.attention.head_count': { type: 'uint32', value: 32 },
      'llama.attention.head_count_kv': { type: 'uint32', value: 8 },
    },
  });
  bundles.unsigned = await create('1.2.0', {}, false);
  for (const name of ['gpu1', 'gpu2']) {
    const n = new OllamaDouble(join(dir, name));
    await n.start();
    nodes.push(n);
  }
  store = join(dir, 'store');
  db = await freshDatabase('kc_models');
}, 300_000);

afterAll(async () => {
  for (const n of nodes) await n.stop();
  await db?.drop();
});

interface ImportOut {
  models: string[];
  nodes: Array<{
    node: string;
    ok: boolean;
    models: Array<{ aliases: string[]; targetDigest: string; digest: string }>;
  }>;
  failed: unknown[];
  signature: string;
  database: { distributions: number } | null;
}

interface ListOut {
  nodes: Array<{
    node: string;
    ok: boolean;
    models: Array<{
      name: string;
      digest: string;
      family: string;
      quantization: string;
      parameterSize: string;
      contextLength: number;
      vram: { totalBytes: number; weightsBytes: number; kvCacheBytes: number | null; context: number };
      loaded: boolean | null;
      expiresAt: string | null;
      versions: Array<{ tag: string; digest: string; current: boolean }>;
    }>;
  }>;
  failed: Array<{ node: string; message: string }>;
}

describe('models import', () => {
  it('refuses an unsigned bundle (20) before touching any node', async () => {
    const r = await models([
      'import',
      bundles.unsigned!,
      ...apiFlags(),
      '--ollama-store',
      store,
      '--trusted-key',
      pub,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(20);
    for (const n of nodes) expect(n.requests.filter((q) => q.startsWith('POST'))).toEqual([]);
    await expect(readdir(join(store, 'manifests'))).rejects.toThrow();
  });

  it('refuses an unknown --model (51) and imports nothing', async () => {
    const r = await models([
      'import',
      bundles.v1!,
      '--model',
      'nope:1',
      '--ollama-store',
      store,
      '--trusted-key',
      pub,
    ]);
    expect(r.code).toBe(51);
    expect(r.stderr).toContain('no model named nope:1');
    expect(r.stderr).toContain('fix:');
  });

  it('imports v1 then v2 onto two API nodes and a models directory, digests preserved, records in the database', async () => {
    for (const b of [bundles.v1!, bundles.v2!]) {
      const r = await models([
        'import',
        b,
        '--model',
        'assist:1.0',
        ...apiFlags(),
        '--ollama-store',
        store,
        '--trusted-key',
        pub,
        '--database-url',
        db.url,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      conforms(r.stdout, 'models-import');
      const out = json<ImportOut>(r.stdout);
      expect(out.signature).toBe('verified');
      expect(out.nodes.map((n) => n.ok)).toEqual([true, true, true]);
      // The models directory holds the bundle's own manifest: same digest.
      const storeNode = out.nodes.find((n) => n.node === store)!;
      expect(storeNode.models[0]!.targetDigest).toBe(storeNode.models[0]!.digest);
      expect(out.database?.distributions).toBe(3);
    }
    const rows = await db.pool.query<{ model_name: string; version: string }>(
      'SELECT model_name, version FROM model_catalog ORDER BY version',
    );
    expect(rows.rows).toEqual([{ model_name: 'assist', version: '1.0' }]);
    const dist = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM model_distributions WHERE distribution_status = 'completed'`,
    );
    expect(Number(dist.rows[0]!.n)).toBe(6);
    const local = await db.pool.query('SELECT status FROM local_ai_models WHERE model_name = $1', ['assist']);
    expect(local.rows).toEqual([{ status: 'available' }]);
  }, 120_000);
});

describe('models list, history, rollback', () => {
  it('lists every node: facts from the GGUF header, VRAM, loaded state, two versions with v2 current', async () => {
    const r = await models(['list', ...apiFlags(), '--ollama-store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-list');
    const out = json<ListOut>(r.stdout);
    expect(out.nodes).toHaveLength(3);
    for (const n of out.nodes) {
      expect(n.models.map((m) => m.name)).toEqual(['assist:1.0']);
      const m = n.models[0]!;
      expect([m.family, m.quantization, m.contextLength]).toEqual(['llama', 'Q4_K_M', 4096]);
      // v2: 32 layers, 8 KV heads of 128 dims, ctx 4096, f16: 4096*32*(128+128)*8*2 bytes.
      expect(m.vram.kvCacheBytes).toBe(4096 * 32 * 256 * 8 * 2);
      expect(m.vram.totalBytes).toBe(m.vram.weightsBytes + 4096 * 32 * 256 * 8 * 2 + 512 * 1024 * 1024);
      expect(m.versions).toHaveLength(2);
      expect(m.versions.map((v) => v.current)).toEqual([false, true]);
      expect(m.loaded).toBe(n.node === store ? null : false);
    }
  });

  it('rolls back across two nodes with /api/copy, byte for byte, and forward again with --to', async () => {
    const before = json<ListOut>((await models(['list', ...apiFlags(), '--json'])).stdout);
    const v1 = before.nodes.map((n) => n.models[0]!.versions[0]!);
    const r = await models(['rollback', 'assist:1.0', ...apiFlags(), '--database-url', db.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-change');
    const after = json<ListOut>((await models(['list', ...apiFlags(), '--json'])).stdout);
    for (const [i, n] of after.nodes.entries()) {
      expect(n.models[0]!.digest).toBe(v1[i]!.digest);
      expect(n.models[0]!.versions.map((v) => v.current)).toEqual([true, false]);
    }
    for (const n of nodes) expect(n.requests).toContain('POST /api/copy');
    const recorded = await db.pool.query(
      `SELECT count(*)::int AS n FROM model_distributions WHERE distribution_method = 'rollback'`,
    );
    expect(recorded.rows[0]).toEqual({ n: 2 });
    // No version before v1: refused (53) on every node.
    const again = await models(['rollback', 'assist:1.0', ...apiFlags()]);
    expect(again.code).toBe(53);
    expect(again.stderr).toContain('no version before');
    const v2 = before.nodes[0]!.models[0]!.versions[1]!.tag.split('-').at(-1)!;
    const fwd = await models(['rollback', 'assist:1.0', '--to', v2, ...apiFlags(), '--json']);
    expect(fwd.code, fwd.stderr).toBe(0);
    const back = json<ListOut>((await models(['list', ...apiFlags(), '--json'])).stdout);
    expect(back.nodes.map((n) => n.models[0]!.digest)).toEqual(before.nodes.map((n) => n.models[0]!.digest));
  });

  it('rolls back in a models directory with an atomic manifest write, and history shows it', async () => {
    const r = await models(['rollback', 'assist:1.0', '--ollama-store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const h = await models(['history', 'assist:1.0', '--ollama-store', store, '--json']);
    expect(h.code, h.stderr).toBe(0);
    conforms(h.stdout, 'models-change');
    const hist = json<{
      nodes: Array<{
        detail: { history: Array<{ digest: string; versions: Array<{ digest: string; current: boolean }> }> };
      }>;
    }>(h.stdout);
    const entry = hist.nodes[0]!.detail.history[0]!;
    expect(entry.versions[0]!.current).toBe(true);
    expect(entry.digest).toBe(entry.versions[0]!.digest);
    const files = await readdir(join(store, 'manifests', 'registry.ollama.ai', 'library', 'assist'));
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]); // no temp file left
    expect(
      (
        await models([
          'rollback',
          'assist:1.0',
          '--to',
          entry.versions[1]!.digest.slice(7, 19),
          '--ollama-store',
          store,
        ])
      ).code,
    ).toBe(0);
  });

  it('an unknown model is exit 51 with a fix', async () => {
    const r = await models(['rollback', 'nope:1', ...apiFlags()]);
    expect(r.code).toBe(51);
    expect(r.stderr).toMatch(/error: no node holds a model named nope:1\nfix: /);
  });
});

describe('models load / unload', () => {
  it('loads on every node (expires_at from /api/ps), unloads on one with --node', async () => {
    const r = await models([
      'load',
      'assist:1.0',
      ...apiFlags(),
      '--keep-alive',
      '30m',
      '--database-url',
      db.url,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = json<{ nodes: Array<{ detail: { state: Array<{ loaded: boolean; expiresAt: string }> } }> }>(
      r.stdout,
    );
    for (const n of out.nodes) {
      expect(n.detail.state[0]!.loaded).toBe(true);
      const left = Date.parse(n.detail.state[0]!.expiresAt) - Date.now();
      expect(left).toBeGreaterThan(20 * 60_000);
    }
    expect((await db.pool.query('SELECT status FROM local_ai_models')).rows).toEqual([{ status: 'loaded' }]);
    const u = await models(['unload', 'assist:1.0', ...apiFlags(), '--node', nodes[0]!.url, '--json']);
    expect(u.code, u.stderr).toBe(0);
    const list = json<ListOut>((await models(['list', ...apiFlags(), '--json'])).stdout);
    expect(list.nodes.map((n) => n.models[0]!.loaded)).toEqual([false, true]);
    expect((await models(['unload', 'assist:1.0', ...apiFlags()])).code).toBe(0);
  });

  it('needs an Ollama server: a models directory cannot load (56)', async () => {
    const r = await models(['load', 'assist:1.0', '--ollama-store', store]);
    expect(r.code).toBe(56);
  });
});

describe('a node that is down', () => {
  it('lists the others, names the failed node and exits 50', async () => {
    const down = new OllamaDouble(join(dir, 'down'));
    await down.start();
    const url = down.url;
    await down.stop();
    const r = await models(['list', '--ollama', nodes[0]!.url, '--ollama', url, '--json']);
    expect(r.code).toBe(50);
    const out = json<ListOut>(r.stdout);
    expect(out.nodes[0]!.models.map((m) => m.name)).toEqual(['assist:1.0']);
    expect(out.failed.map((f) => f.node)).toEqual([new URL(url).origin]);
    expect(r.stderr).toContain(`error: ${new URL(url).origin}`);
    const imp = await models([
      'import',
      bundles.v2!,
      '--ollama',
      nodes[1]!.url,
      '--ollama',
      url,
      '--trusted-key',
      pub,
      '--json',
    ]);
    expect(imp.code).toBe(50);
    const io = json<ImportOut>(imp.stdout);
    expect(io.nodes.map((n) => n.ok)).toEqual([true, false]);
  }, 60_000);
});

describe('models inspect', () => {
  const shape = {
    'llama.block_count': { type: 'uint32' as const, value: 32 },
    'llama.embedding_length': { type: 'uint32' as const, value: 4096 },
    'llama.attention.head_count': { type: 'uint32' as const, value: 32 },
    'llama.attention.head_count_kv': { type: 'uint32' as const, value: 8 },
  };

  it('reads a GGUF header: parameters from the tensors, shape, and weights + KV cache + 0.5 GiB', async () => {
    const file = join(dir, 'm.gguf');
    await writeGguf(file, {
      fileType: 15,
      contextLength: 8192,
      kv: shape,
      tensors: [
        { name: 'token_embd.weight', dims: [256, 64], type: 0 },
        { name: 'output.weight', dims: [128, 64], type: 1 },
      ],
    });
    const r = await models(['inspect', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-inspect');
    const out = json<{
      architecture: string;
      parameterCount: number;
      fileType: string;
      contextLength: number;
      layers: number;
      heads: number;
      kvHeads: number;
      vram: { context: number; weightsBytes: number; kvCacheBytes: number; totalBytes: number };
    }>(r.stdout);
    expect([out.architecture, out.parameterCount, out.fileType, out.contextLength]).toEqual([
      'llama',
      256 * 64 + 128 * 64,
      'Q4_K_M',
      8192,
    ]);
    expect([out.layers, out.heads, out.kvHeads]).toEqual([32, 32, 8]);
    expect(out.vram.weightsBytes).toBe(256 * 64 * 4 + 128 * 64 * 2);
    expect(out.vram.kvCacheBytes).toBe(4096 * 32 * (128 + 128) * 8 * 2);
    expect(out.vram.totalBytes).toBe(out.vram.weightsBytes + out.vram.kvCacheBytes + 512 * 1024 * 1024);
    // A longer context than the model supports is capped at its context_length.
    const long = json<{ vram: { context: number } }>(
      (await models(['inspect', file, '--context', '65536', '--json'])).stdout,
    );
    expect(long.vram.context).toBe(8192);
  });

  it('refuses a bad magic, an unknown version and truncated tensor data with exit 4 and a fix', async () => {
    const magic = join(dir, 'bad-magic.gguf');
    await writeFile(magic, Buffer.concat([Buffer.from('GGML'), Buffer.alloc(60)]));
    const version = join(dir, 'bad-version.gguf');
    const v = Buffer.alloc(64);
    v.write('GGUF', 0, 'latin1');
    v.writeUInt32LE(9, 4);
    await writeFile(version, v);
    const cut = join(dir, 'cut.gguf');
    const size = await writeGguf(cut, { kv: shape });
    await truncate(cut, size - 100);
    for (const [file, msg] of [
      [magic, 'not a GGUF file'],
      [version, 'unsupported GGUF version 9'],
      [cut, 'truncated GGUF file'],
    ] as const) {
      const r = await models(['inspect', file]);
      expect(r.code, file).toBe(4);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).toContain('fix: ');
    }
  });

  it('inspects a model on a node through /api/show', async () => {
    const r = await models(['inspect', 'assist:1.0', '--ollama', nodes[0]!.url, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = json<{ source: string; layers: number; kvHeads: number; parameterCount: number }>(r.stdout);
    expect(out.source).toBe(nodes[0]!.url);
    expect([out.layers, out.kvHeads]).toEqual([32, 8]);
    expect(out.parameterCount).toBe(2 * 256 * 64);
  });
});

describe('models plan', () => {
  it('places the bundle’s model on the node with the most memory; too little memory is exit 54', async () => {
    const gib = 1024 ** 3;
    const r = await models([
      'plan',
      bundles.v2!,
      ...apiFlags(),
      '--gpu-memory',
      `${nodes[0]!.url}=1.5GiB`,
      '--gpu-memory',
      `${nodes[1]!.url}=2GiB`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-plan');
    const out = json<{
      nodes: Array<{ models: string[]; capacityBytes: number }>;
      models: Array<{ estimate: string; vramBytes: number }>;
    }>(r.stdout);
    expect(out.models[0]!.estimate).toBe('gguf');
    expect(out.models[0]!.vramBytes).toBeGreaterThan(gib); // 512 MiB KV cache + 512 MiB overhead + weights
    expect(out.nodes.map((n) => n.models)).toEqual([[], ['assist:1.0']]);
    const tight = await models([
      'plan',
      bundles.v2!,
      ...apiFlags(),
      '--gpu-memory',
      `${nodes[0]!.url}=1GiB`,
      '--gpu-memory',
      `${nodes[1]!.url}=1GiB`,
      '--json',
    ]);
    expect(tight.code).toBe(54);
    expect(json<{ unplaced: Array<{ name: string; reason: string }> }>(tight.stdout).unplaced).toEqual([
      expect.objectContaining({ name: 'assist:1.0', reason: 'larger than any node’s GPU memory' }),
    ]);
    const bad = await models(['plan', ...apiFlags(), '--gpu-memory', 'lots']);
    expect(bad.code).toBe(3);
  });
});

describe('models bench', () => {
  it('reports percentiles and tokens/s, records metrics and one log per request, never the password', async () => {
    // Pinned with models load (keep_alive -1): the load test must not cut it down to the default.
    expect((await models(['load', 'assist:1.0', '--ollama', nodes[0]!.url])).code).toBe(0);
    const generates = () => nodes[0]!.requests.filter((q) => q === 'POST /api/generate').length;
    const sent = generates();
    const u = new URL(db.url);
    u.password = 's3cret-db-pw';
    const r = await models([
      'bench',
      'assist:1.0',
      ...apiFlags(),
      '--node',
      nodes[0]!.url,
      '--concurrency',
      '3',
      '--requests',
      '9',
      '--database-url',
      u.toString(),
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-bench');
    expect(r.stdout + r.stderr).not.toContain('s3cret-db-pw');
    const out = json<{
      nodes: Array<{
        summary: {
          ok: number;
          errors: number;
          tokensPerSecond: number;
          latencyMs: { p50: number; p99: number };
        };
        recorded: { metrics: number; logs: number };
      }>;
    }>(r.stdout);
    expect(out.nodes).toHaveLength(1);
    const s = out.nodes[0]!.summary;
    expect([s.ok, s.errors]).toEqual([9, 0]);
    expect(s.tokensPerSecond).toBe(1000); // the double: 16 tokens in 16 ms
    expect(s.latencyMs.p99).toBeGreaterThanOrEqual(s.latencyMs.p50);
    expect(out.nodes[0]!.recorded).toEqual({ metrics: 6, logs: 9 });
    expect(generates() - sent).toBe(10); // one untimed warm-up, then the 9 measured
    const ps = (await (await fetch(`${nodes[0]!.url}/api/ps`)).json()) as {
      models: Array<{ expires_at: string }>;
    };
    expect(Date.parse(ps.models[0]!.expires_at) - Date.now()).toBeGreaterThan(10 * 365 * 86_400_000);
    const logs = await db.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM ai_inference_logs WHERE model_id IS NOT NULL',
    );
    expect(logs.rows[0]!.n).toBe(9);
    const metrics = await db.pool.query<{ metric_name: string }>(
      'SELECT metric_name FROM performance_metrics ORDER BY metric_name',
    );
    expect(metrics.rows.map((m) => m.metric_name)).toContain('model_bench_latency_p95');
    const dump = JSON.stringify((await db.pool.query('SELECT * FROM performance_metrics')).rows);
    expect(dump).not.toContain('s3cret-db-pw');
  });

  it('counts failed requests and exits 55', async () => {
    nodes[0]!.failGenerate = 2;
    const r = await models([
      'bench',
      'assist:1.0',
      '--ollama',
      nodes[0]!.url,
      '--requests',
      '5',
      '--concurrency',
      '1',
      '--no-warmup',
      '--json',
    ]);
    expect(r.code).toBe(55);
    const s = json<{ nodes: Array<{ summary: { ok: number; errors: number; errorMessages: string[] } }> }>(
      r.stdout,
    ).nodes[0]!.summary;
    expect([s.ok, s.errors]).toEqual([3, 2]);
    expect(s.errorMessages[0]).toContain('out of memory');
  });
});

describe('models verify and remove', () => {
  it('verifies one model by name, skips API nodes, and refuses an unknown name (51)', async () => {
    const r = await models([
      'verify',
      'assist:1.0',
      '--ollama-store',
      store,
      '--ollama',
      nodes[0]!.url,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = json<{
      skipped: string[];
      nodes: Array<{ models: Array<{ name: string }>; bytesHashed: number }>;
    }>(r.stdout);
    expect(out.skipped).toEqual([new URL(nodes[0]!.url).origin]);
    expect(out.nodes[0]!.models.map((m) => m.name)).toEqual(['registry.ollama.ai/library/assist:1.0']);
    expect(out.nodes[0]!.bytesHashed).toBeGreaterThan(2 * 1024 * 1024);
    const unknown = await models(['verify', 'nope:1', '--ollama-store', store]);
    expect(unknown.code).toBe(51);
    expect((await models(['verify', '--ollama', nodes[0]!.url])).code).toBe(56);
  });

  it('finds a corrupted blob (52) and repairs it from the bundle', async () => {
    expect((await models(['verify', '--ollama-store', store])).code).toBe(0);
    const checks = await verifyOllamaStore(store);
    const big = checks.flatMap((c) => c.problems).length === 0 ? checks[0]! : undefined;
    expect(big).toBeDefined();
    const manifest = JSON.parse(
      await readFile(checks.find((c) => c.name.endsWith(':1.0'))!.manifestPath, 'utf8'),
    ) as {
      layers: Array<{ mediaType: string; digest: string }>;
    };
    const weights = manifest.layers.find((l) => l.mediaType === 'application/vnd.ollama.image.model')!.digest;
    const fh = await open(join(store, 'blobs', weights.replace(':', '-')), 'r+');
    await fh.write(Buffer.from('XXXX'), 0, 4, 5000);
    await fh.close();
    const r = await models(['verify', '--ollama-store', store, '--json']);
    expect(r.code).toBe(52);
    conforms(r.stdout, 'models-verify');
    const out = json<{
      nodes: Array<{ models: Array<{ name: string; problems: Array<{ digest: string; problem: string }> }> }>;
    }>(r.stdout);
    const bad = out.nodes[0]!.models.filter((m) => m.problems.length > 0);
    expect(bad.length).toBeGreaterThanOrEqual(2); // the serving tag and its version tag share the blob
    expect(bad.every((m) => m.problems[0]!.digest === weights && m.problems[0]!.problem === 'corrupt')).toBe(
      true,
    );
    const human = await models(['verify', '--ollama-store', store]);
    expect(human.stderr).toContain('fix: restore them with --repair');
    const current = await readFile(
      join(store, 'manifests', 'registry.ollama.ai', 'library', 'assist', '1.0'),
      'utf8',
    );
    const bundle = current.includes(weights) ? bundles.v2! : bundles.v1!;
    const fixed = await models(['verify', '--ollama-store', store, '--repair', bundle, '--json']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(json<{ nodes: Array<{ repaired: string[] }> }>(fixed.stdout).nodes[0]!.repaired).toEqual([
      weights,
    ]);
  });

  it('removes a version whose blobs another version shares: only its own blobs go', async () => {
    const list = json<ListOut>((await models(['list', '--ollama-store', store, '--json'])).stdout);
    const [v1, v2] = list.nodes[0]!.models[0]!.versions;
    const blobsBefore = await readdir(join(store, 'blobs'));
    // The serving tag points at one version; remove the other.
    const doomed = v1!.current ? v2! : v1!;
    const r = await models(['remove', `assist:${doomed.tag}`, '--ollama-store', store, '--json']);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-change');
    const removed = json<{ nodes: Array<{ detail: { blobsRemoved: string[] } }> }>(r.stdout).nodes[0]!.detail
      .blobsRemoved;
    // Its weights and config are its own; the license and template layers are shared with the other version.
    expect(removed.length).toBeGreaterThanOrEqual(1);
    const blobsAfter = await readdir(join(store, 'blobs'));
    expect(blobsAfter.length).toBe(blobsBefore.length - removed.length);
    const checks = await verifyOllamaStore(store);
    expect(checks.map((c) => c.problems)).toEqual(checks.map(() => []));
    // Removing the serving tag leaves the version tag, so no blob goes.
    const serving = await models(['remove', 'assist:1.0', '--ollama-store', store, '--json']);
    expect(
      json<{ nodes: Array<{ detail: { blobsRemoved: string[] } }> }>(serving.stdout).nodes[0]!.detail
        .blobsRemoved,
    ).toEqual([]);
    // The version tag left is still listed, and restores the serving tag with rollback --to.
    const keep = (v1!.current ? v1 : v2)!;
    const left = json<ListOut>((await models(['list', '--ollama-store', store, '--json'])).stdout).nodes[0]!
      .models;
    expect(left.map((m) => m.name)).toEqual([`assist:${keep.tag}`]);
    const h = await models(['history', 'assist:1.0', '--ollama-store', store, '--json']);
    expect(h.code, h.stderr).toBe(0);
    conforms(h.stdout, 'models-change');
    const gone = await models(['rollback', 'assist:1.0', '--ollama-store', store]);
    expect(gone.code).toBe(53);
    expect(gone.stderr).toContain('the serving tag is gone');
    const restored = await models([
      'rollback',
      'assist:1.0',
      '--to',
      keep.tag,
      '--ollama-store',
      store,
      '--json',
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    const back = json<ListOut>((await models(['list', '--ollama-store', store, '--json'])).stdout).nodes[0]!
      .models;
    expect(back.map((m) => [m.name, m.digest])).toEqual([['assist:1.0', keep.digest]]);
  });

  it('removes on API nodes through /api/delete', async () => {
    const r = await models([
      'remove',
      'assist:1.0',
      '--all-versions',
      ...apiFlags(),
      '--database-url',
      db.url,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    conforms(r.stdout, 'models-change');
    expect(json<{ database: { distributions: number } }>(r.stdout).database.distributions).toBe(2);
    expect((await db.pool.query('SELECT status FROM local_ai_models')).rows).toEqual([{ status: 'retired' }]);
    for (const n of nodes) {
      expect(n.requests).toContain('DELETE /api/delete');
      expect(await readdir(join(n.store, 'blobs'))).toEqual([]);
    }
  });
});

describe('an Ollama server behind TLS from a private CA', () => {
  let tlsNode: OllamaDouble;
  let ca: string;

  beforeAll(async () => {
    const certs = await makeCertificates();
    ca = certs.ca;
    tlsNode = new OllamaDouble(join(dir, 'tls-node'), { tls: { cert: certs.cert, key: certs.key } });
    await tlsNode.start();
  });

  afterAll(async () => {
    await tlsNode?.stop();
  });

  it('Given no --ollama-ca, Then the certificate is refused (10) and the fix says to trust its CA', async () => {
    const r = await models(['list', '--ollama', tlsNode.url]);
    expect(r.code).toBe(10);
    expect(r.stderr).toContain(`error: Ollama ${tlsNode.url}: cannot reach the server`);
    expect(r.stderr).toMatch(/fix: trust the CA/);
    expect(tlsNode.requests).toEqual([]);
  });

  it('Given --ollama-ca or KUBECHAT_OLLAMA_CA, Then import, list, load and unload run over https', async () => {
    const tls = ['--ollama', tlsNode.url, '--ollama-ca', ca];
    const imp = await models(['import', bundles.v1!, ...tls, '--trusted-key', pub, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    conforms(imp.stdout, 'models-import');
    expect(json<ImportOut>(imp.stdout).nodes.map((n) => [n.node, n.ok])).toEqual([[tlsNode.url, true]]);
    for (const call of ['HEAD /api/blobs/', 'POST /api/blobs/', 'POST /api/create', 'POST /api/copy'])
      expect(
        tlsNode.requests.some((q) => q.startsWith(call)),
        call,
      ).toBe(true);

    const list = await kubechat(['models', 'list', '--ollama', tlsNode.url, '--json'], {
      env: { ...env(), KUBECHAT_OLLAMA_CA: ca },
    });
    expect(list.code, list.stderr).toBe(0);
    conforms(list.stdout, 'models-list');
    const m = json<ListOut>(list.stdout).nodes[0]!.models;
    expect(m.map((x) => [x.name, x.family, x.loaded])).toEqual([['assist:1.0', 'llama', false]]);

    const load = await models(['load', 'assist:1.0', ...tls, '--json']);
    expect(load.code, load.stderr).toBe(0);
    const after = json<ListOut>((await models(['list', ...tls, '--json'])).stdout);
    expect(after.nodes[0]!.models[0]!.loaded).toBe(true);
    expect((await models(['unload', 'assist:1.0', ...tls])).code).toBe(0);
    expect(tlsNode.requests).toContain('GET /api/ps');
  });

  it('Given an unreadable --ollama-ca, Then it stops before any request (3)', async () => {
    const before = tlsNode.requests.length;
    const r = await models(['list', '--ollama', tlsNode.url, '--ollama-ca', join(dir, 'no-such-ca.pem')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('--ollama-ca');
    expect(tlsNode.requests.length).toBe(before);
  });
});
