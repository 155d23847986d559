/**
 * Generates the local sources the demo spec (bundles/demo.yaml) and the integration tests read: an
 * OCI image layout, a GGUF model. Nothing binary is committed; this writes it on demand.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeGguf, type FixtureValue } from './gguf-fixture.js';
import { writeOciLayout } from './oci-fixture.js';

export interface DemoSourcesOptions {
  /** Size of the demo GGUF file. */
  ggufSize?: number;
  /** Size of the demo image's app layer. */
  layerSize?: number;
  /** Changes the app layer's content (a new image version). */
  layerSeed?: string;
  /** Extra GGUF metadata (llama.block_count …): a different model version. */
  ggufKv?: Record<string, FixtureValue>;
}

export async function writeDemoSources(dir: string, opts: DemoSourcesOptions = {}) {
  await mkdir(join(dir, 'models'), { recursive: true });
  const image = await writeOciLayout(join(dir, 'hello'), {
    tag: '1.0',
    layers: [
      { size: 64 * 1024 },
      { size: opts.layerSize ?? 1024 * 1024, seed: opts.layerSeed ?? 'hello-app-1.0' },
    ],
    gzip: true,
  });
  const ggufSize = await writeGguf(join(dir, 'models', 'assist.gguf'), {
    architecture: 'llama',
    name: 'KubeChat Assist (demo weights)',
    fileType: 15,
    license: 'Apache-2.0',
    contextLength: 4096,
    tensors: [
      { name: 'token_embd.weight', dims: [256, 64], type: 0 },
      { name: 'output.weight', dims: [256, 64], type: 0 },
    ],
    padTo: opts.ggufSize ?? 2 * 1024 * 1024,
    ...(opts.ggufKv ? { kv: opts.ggufKv } : {}),
  });
  return { image, ggufSize };
}
