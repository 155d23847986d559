import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFileBlob, type FileBlob, type ModelInfo, type PlannedArtifact } from '../../src/bundle/plan.js';
import { PLACEHOLDER_DIGEST, sha256Digest } from '../../src/lib/digest.js';
import { KubechatError } from '../../src/lib/errors.js';
import { MediaType } from '../../src/oci/media-types.js';
import { goJson, parseModelName, planModel, shortLicense } from '../../src/sources/model.js';
import { str, u32, u64, writeGguf } from '../support/gguf-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-model-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileDigest(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/** finish() with the digests the writer would compute. */
async function finishReal(artifact: PlannedArtifact) {
  const digests = new Map<string, string>();
  for (const b of artifact.blobs) if (isFileBlob(b)) digests.set(b.path, await fileDigest(b.path));
  return artifact.finish((b: FileBlob) => digests.get(b.path) ?? '');
}

const json = (b: Buffer) => JSON.parse(b.toString('utf8')) as Record<string, unknown>;

describe('planModel', () => {
  it('builds the manifest, config and layers Ollama stores', async () => {
    // Given a GGUF, a LoRA adapter and a Modelfile using every layer-producing instruction
    const gguf = join(dir, 'assist.gguf');
    await writeGguf(gguf, {
      architecture: 'qwen2',
      fileType: 15,
      padTo: 4 << 20,
      tensors: [{ name: 'token_embd.weight', dims: [512, 1024], type: 12 }],
    });
    await mkdir(join(dir, 'm'));
    await writeGguf(join(dir, 'lora.gguf'), { kv: { 'general.type': 'adapter' } });
    const modelfile = join(dir, 'm', 'Modelfile');
    await writeFile(
      modelfile,
      [
        'FROM ./ignored.gguf',
        'ADAPTER ../lora.gguf',
        'TEMPLATE """{{ .System }} {{ .Prompt }}"""',
        'SYSTEM You help operators.',
        'LICENSE """SPDX-License-Identifier: Apache-2.0\nfull text"""',
        'PARAMETER temperature 0.6',
        'PARAMETER stop <|im_end|>',
        'PARAMETER num_ctx 8192',
        'MESSAGE user hi',
      ].join('\n'),
    );
    // When it is planned and finished with the real digests
    const artifact = await planModel({
      name: 'assist:1.0',
      ggufPath: gguf,
      modelfilePath: modelfile,
      source: 'gguf:x',
    });
    const done = await finishReal(artifact);
    // Then the layers come in Ollama's order, the weights and adapter as files
    expect(artifact.kind).toBe('model');
    expect(artifact.refName).toBe('registry.ollama.ai/library/assist:1.0');
    expect(artifact.blobs.map((b) => b.mediaType)).toEqual([
      MediaType.ollamaModel,
      MediaType.ollamaAdapter,
      MediaType.ollamaTemplate,
      MediaType.ollamaSystem,
      MediaType.ollamaLicense,
      MediaType.ollamaParams,
      MediaType.ollamaMessages,
    ]);
    expect(artifact.blobs[1]).toMatchObject({ path: join(dir, 'lora.gguf'), digest: undefined });
    const memory = artifact.blobs.filter((b) => !isFileBlob(b)) as Array<{ data: Buffer }>;
    expect(memory.map((b) => b.data.toString('utf8'))).toEqual([
      '{{ .System }} {{ .Prompt }}',
      'You help operators.',
      'SPDX-License-Identifier: Apache-2.0\nfull text',
      '{"num_ctx":8192,"stop":["\\u003c|im_end|\\u003e"],"temperature":0.6}\n',
      '[{"role":"user","content":"hi"}]\n',
    ]);
    // And the manifest is a docker v2 manifest whose first layer is the GGUF's sha256
    const manifest = json(done.root.data);
    expect(Object.keys(manifest)).toEqual(['schemaVersion', 'mediaType', 'config', 'layers']);
    expect(manifest).toMatchObject({ schemaVersion: 2, mediaType: MediaType.dockerManifest });
    const layers = manifest.layers as Array<{ mediaType: string; digest: string; size: number }>;
    expect(layers[0]).toEqual({
      mediaType: MediaType.ollamaModel,
      digest: await fileDigest(gguf),
      size: 4 << 20,
    });
    expect(done.root).toMatchObject({
      mediaType: MediaType.dockerManifest,
      digest: sha256Digest(done.root.data),
    });
    expect(done.root.data.toString('utf8').endsWith('}\n')).toBe(true);
    // And the config is Ollama's ConfigV2, in its field order, listing the layer digests
    const [config] = done.extra;
    expect(manifest.config).toEqual({
      mediaType: MediaType.dockerConfig,
      digest: config?.digest,
      size: config?.size,
    });
    expect(config?.data.toString('utf8')).toBe(
      goJson({
        model_format: 'gguf',
        model_family: 'qwen2',
        model_families: ['qwen2'],
        model_type: '524K',
        file_type: 'Q4_K_M',
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
      }).toString('utf8'),
    );
    // And the info describes it
    expect(done.info).toEqual({
      kind: 'model',
      name: 'assist:1.0',
      ref: 'registry.ollama.ai/library/assist:1.0',
      source: 'gguf:x',
      digest: done.root.digest,
      size: (config?.size ?? 0) + layers.reduce((s, l) => s + l.size, 0),
      family: 'qwen2',
      parameterSize: '524K',
      quantization: 'Q4_K_M',
      license: 'Apache-2.0',
    });
  });

  it('gives finish() results of the same length for placeholder and real digests', async () => {
    const gguf = join(dir, 'm.gguf');
    await writeGguf(gguf, {});
    const artifact = await planModel({ name: 'm', ggufPath: gguf, source: 's' });
    const placeholder = artifact.finish(() => PLACEHOLDER_DIGEST);
    const real = await finishReal(artifact);
    expect(real.root.digest).not.toBe(placeholder.root.digest);
    expect(real.root.size).toBe(placeholder.root.size);
    expect(real.extra.map((b) => b.size)).toEqual(placeholder.extra.map((b) => b.size));
    expect((real.info as ModelInfo).size).toBe((placeholder.info as ModelInfo).size);
  });

  it("reproduces the digests in Ollama's own create tests", async () => {
    // Given the GGUF Ollama's server tests write (architecture "test", no tensors) and their parameters
    const gguf = join(dir, 'test.gguf');
    const kv = Buffer.concat([str('general.architecture'), u32(8), str('test')]);
    await writeFile(gguf, Buffer.concat([Buffer.from('GGUF'), u32(3), u64(0), u64(1), kv]));
    const modelfile = join(dir, 'Modelfile');
    await writeFile(
      modelfile,
      'PARAMETER temperature 1\nPARAMETER top_k 10\nPARAMETER stop USER:\nPARAMETER stop ASSISTANT:',
    );
    // When it is planned
    const done = await finishReal(
      await planModel({ name: 'test', ggufPath: gguf, modelfilePath: modelfile, source: 's' }),
    );
    // Then the weights, params and config blobs have the digests TestCreateMergeParameters expects
    const layers = json(done.root.data).layers as Array<{ digest: string }>;
    expect(layers.map((l) => l.digest)).toEqual([
      'sha256:89a2116c3a82d6a97f59f748d86ed4417214353fd178ee54df418fde32495fad',
      'sha256:1d0ad71299d48c2fb7ae2b98e683643e771f8a5b72be34942af90d97a91c1e37',
    ]);
    expect(done.extra[0]?.digest).toBe(
      'sha256:6d6e36c1f90fc7deefc33a7300aa21ad4b67c506e33ecdeddfafa98147e60bbf',
    );
  });

  it('fills in renderer, parser and stop for architectures Ollama knows', async () => {
    const gguf = join(dir, 'g.gguf');
    await writeGguf(gguf, { architecture: 'gemma4' });
    const done = await finishReal(await planModel({ name: 'g', ggufPath: gguf, source: 's' }));
    expect(json(done.extra[0]?.data ?? Buffer.from('{}'))).toMatchObject({
      renderer: 'gemma4',
      parser: 'gemma4',
    });
    const params = await planModel({ name: 'g', ggufPath: gguf, source: 's' });
    expect((params.blobs[1] as { data: Buffer }).data.toString()).toBe('{"stop":["\\u003cturn|\\u003e"]}\n');
  });

  it('takes the license from general.license when the Modelfile has none', async () => {
    const gguf = join(dir, 'l.gguf');
    await writeGguf(gguf, { license: 'mit' });
    const done = (await planModel({ name: 'l', ggufPath: gguf, source: 's' })).finish(
      () => PLACEHOLDER_DIGEST,
    );
    expect(done.info).toMatchObject({ license: 'mit', name: 'l:latest' });
    await writeGguf(gguf, {});
    const none = (await planModel({ name: 'l', ggufPath: gguf, source: 's' })).finish(
      () => PLACEHOLDER_DIGEST,
    );
    expect(none.info).toMatchObject({ license: null });
  });

  it('refuses an adapter that is not a GGUF and a LoRA given as the model', async () => {
    const gguf = join(dir, 'a.gguf');
    await writeGguf(gguf, {});
    await writeFile(join(dir, 'lora.safetensors'), 'not gguf');
    await writeFile(join(dir, 'Modelfile'), 'FROM x\nADAPTER lora.safetensors');
    const input = { name: 'a', ggufPath: gguf, modelfilePath: join(dir, 'Modelfile'), source: 's' };
    await expect(planModel(input)).rejects.toThrow(
      /Modelfile:2: ADAPTER .*lora\.safetensors: not a GGUF file/,
    );
    await writeGguf(gguf, { kv: { 'general.type': 'adapter' } });
    await expect(planModel({ name: 'a', ggufPath: gguf, source: 's' })).rejects.toThrow(/is a LoRA adapter/);
  });
});

describe('parseModelName', () => {
  it.each([
    ['assist', 'registry.ollama.ai', 'library', 'assist', 'latest'],
    ['assist:1.0', 'registry.ollama.ai', 'library', 'assist', '1.0'],
    ['myorg/m:1', 'registry.ollama.ai', 'myorg', 'm', '1'],
    ['registry.local:5000/team/llama3.2:8b-q4_K_M', 'registry.local:5000', 'team', 'llama3.2', '8b-q4_K_M'],
  ])('reads %s', (name, host, namespace, model, tag) => {
    expect(parseModelName(name)).toEqual({ host, namespace, model, tag });
  });

  it.each(['', 'Bad Name', 'm:', '/m', '.hidden', 'my.org/m', 'm:-x', `m:${'t'.repeat(81)}`, 'a/b/c/d'])(
    'rejects %j',
    (name) => {
      let err: unknown;
      try {
        parseModelName(name);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KubechatError);
      expect((err as KubechatError).message).toMatch(/^model name ".*": invalid (host|namespace|model|tag)/);
    },
  );
});

describe('shortLicense', () => {
  it('prefers an SPDX identifier, else the first non-empty line', () => {
    expect(shortLicense('Copyright 2024\nSPDX-License-Identifier: MIT')).toBe('MIT');
    expect(shortLicense('\n  LLAMA 3.2 COMMUNITY LICENSE AGREEMENT  \nLlama 3.2 Version Release Date')).toBe(
      'LLAMA 3.2 COMMUNITY LICENSE AGREEMENT',
    );
    expect(shortLicense('x'.repeat(100))).toHaveLength(80);
  });
});
