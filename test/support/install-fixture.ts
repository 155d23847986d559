/** Bundles for install tests: the demo spec built by the CLI, plus helpers to read and damage them. */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect } from 'vitest';
import { schemaValidator } from '../../src/lib/schema.js';
import { kubechat, sh } from './cli.js';
import type { DemoSourcesOptions } from './demo-sources.js';
import { makeWorkspace, type Workspace } from './workspace.js';

export interface BundleManifestLite {
  artifacts: {
    images: Array<{ ref: string; digest: string }>;
    charts: Array<{ ref: string; digest: string }>;
    models: Array<{ ref: string; digest: string; name: string }>;
  };
  contents: Array<{ path: string; sha256: string; size: number; mode?: string }>;
}

export interface DemoBundle {
  ws: Workspace;
  path: string;
  manifest: BundleManifestLite;
  manifestDigest: string;
}

export async function demoBundle(version = '1.0.0', sources: DemoSourcesOptions = {}): Promise<DemoBundle> {
  const ws = await makeWorkspace();
  const spec = await ws.spec(version, sources);
  const r = await kubechat(['bundle', 'create', '-f', spec, '-o', ws.out, '--json']);
  expect(r.code, r.stderr).toBe(0);
  const path = (JSON.parse(r.stdout) as { bundle: string }).bundle;
  const raw = (await sh(`zstd -dc '${path}' | tar -xO kubechat-bundle.json`)).stdout;
  return {
    ws,
    path,
    manifest: JSON.parse(raw) as BundleManifestLite,
    manifestDigest: `sha256:${createHash('sha256').update(raw).digest('hex')}`,
  };
}

/**
 * A copy of the bundle whose entry `path` has one byte flipped at `at` (the tar stays valid, the
 * manifest does not match). Recompressed as one plain zstd stream: read sequentially.
 */
export async function corruptEntry(bundle: string, path: string, dir: string, at = 1000): Promise<string> {
  const tar = join(dir, 'corrupt.tar');
  expect((await sh(`zstd -qdc '${bundle}' > '${tar}'`)).code).toBe(0);
  const data = await readFile(tar);
  const name = Buffer.from(path);
  let header = -1;
  for (let off = 0; off < data.length; off += 512) {
    if (data.subarray(off, off + name.length).equals(name) && data[off + name.length] === 0) {
      header = off;
      break;
    }
  }
  expect(header, `${path} in the tar`).toBeGreaterThanOrEqual(0);
  const i = header + 512 + at;
  data.writeUInt8(data.readUInt8(i) ^ 0xff, i);
  await writeFile(tar, data);
  const out = join(dir, 'corrupt.kcb.tar.zst');
  expect((await sh(`zstd -q -1 --rm -f '${tar}' -o '${out}'`)).code).toBe(0);
  return out;
}

/** --json output is a contract: check it against schemas/results/<schema>.schema.json. */
export function conforms(result: string, schema: string): void {
  const validate = schemaValidator(`results/${schema}.schema.json`, true);
  const ok = validate(JSON.parse(result));
  expect(validate.errors ?? [], schema).toEqual([]);
  expect(ok).toBe(true);
}

export const sha256File = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex');
