/**
 * Damage a real bundle at many places (seeded, so failures reproduce) and check the contract for
 * bad input: verify either reports problems or fails with a KubechatError (exit 5 or 6) — never
 * an internal error, never a hang, never "OK" for changed content.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import { createBundle } from '../support/create-bundle.js';
import { verifyBundle } from '../../src/install/verify-bundle.js';
import { streamEntries, openBundle } from '../../src/bundle/reader.js';
import { makeWorkspace } from '../support/workspace.js';

let bundle: string;
let dir: string;
let original: Buffer;

/** sha256 of every entry, as read by kubechat: what an install would get. */
async function contentOf(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const e of streamEntries(await openBundle(file))) {
    h.update(e.path);
    for await (const c of e.data) h.update(c);
  }
  return h.digest('hex');
}

/** Deterministic pseudo-random positions (xorshift), so a failing seed can be replayed. */
function* positions(seed: number, count: number, size: number): Generator<number> {
  let x = seed;
  for (let i = 0; i < count; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    yield (x >>> 0) % size;
  }
}

beforeAll(async () => {
  const ws = await makeWorkspace();
  const spec = await ws.spec('1.0.0', { ggufSize: 256 * 1024, layerSize: 128 * 1024 });
  const r = await createBundle({ specPath: spec, outDir: ws.out });
  bundle = r.bundle;
  dir = await mkdtemp(join(tmpdir(), 'kubechat-corrupt-'));
  original = await readFile(bundle);
});

describe('a damaged bundle', () => {
  it('Given single flipped bytes anywhere, Then verify never passes changed content and never fails internally', async () => {
    const reference = await contentOf(bundle);
    let detected = 0;
    const trials = 120;
    for (const at of positions(0x5eed, trials, original.length)) {
      const damaged = Buffer.from(original);
      damaged.writeUInt8(damaged.readUInt8(at) ^ 0x5a, at);
      const file = join(dir, 'flip.kcb.tar.zst');
      await writeFile(file, damaged);
      try {
        const v = await verifyBundle({ bundlePath: file });
        if (v.ok) {
          // Only bytes nothing reads (header padding, tar padding) may change without notice.
          expect(await contentOf(file), `flip at ${at} passed verify`).toBe(reference);
        } else detected++;
      } catch (err) {
        expect(err, `flip at ${at}: ${String(err)}`).toBeInstanceOf(KubechatError);
        expect([5, 6], `flip at ${at}`).toContain((err as KubechatError).exitCode);
        detected++;
      }
    }
    expect(detected).toBeGreaterThan(trials * 0.8);
  });

  it('Given the file cut at any point, Then verify fails with exit 5 or 6', async () => {
    for (const at of positions(0xc0ffee, 40, original.length)) {
      const file = join(dir, 'cut.kcb.tar.zst');
      await copyFile(bundle, file);
      await truncate(file, at);
      const outcome = await verifyBundle({ bundlePath: file }).then(
        (v) => (v.ok ? 'ok' : 'problems'),
        (err: unknown) => (err instanceof KubechatError ? err.exitCode : `internal: ${String(err)}`),
      );
      expect([5, 6, 'problems'], `cut at ${at}`).toContain(outcome);
    }
  });
});
