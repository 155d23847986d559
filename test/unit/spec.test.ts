import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSpec, parseOciFrom } from '../../src/bundle/spec.js';
import { KubechatError } from '../../src/lib/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-spec-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const VALID = `apiVersion: kubechat.io/v1
kind: Bundle
metadata:
  name: demo
  version: 1.2.3-rc.1+build.5
  description: a demo bundle
spec:
  platforms: [linux/amd64, linux/arm64/v8]
  images:
    - { ref: 'kubechat/hello:1.0', from: 'oci:./sources/hello:1.0' }
  charts:
    - path: ../charts/kubechat
  models:
    - { name: 'assist:1.0', gguf: ./models/assist.gguf, modelfile: ./models/Modelfile }
  files:
    - { path: ../docs, target: docs/guides }
`;

async function specFile(text: string, name = 'bundle.yaml'): Promise<string> {
  const file = join(dir, 'bundles', name);
  await mkdir(join(dir, 'bundles'), { recursive: true });
  await writeFile(file, text);
  return file;
}

async function failure(text: string): Promise<KubechatError> {
  const file = await specFile(text);
  const err = await loadSpec(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubechatError);
  const k = err as KubechatError;
  expect(k.message).toContain(file);
  expect(k.fix).toBeTruthy();
  return k;
}

/** VALID with one line replaced. */
const withLine = (from: string, to: string) => {
  expect(VALID).toContain(from);
  return VALID.replace(from, to);
};

describe('loadSpec', () => {
  it('Given a valid spec, When loaded, Then every field is kept and paths resolve against its directory', async () => {
    const file = await specFile(VALID);
    const loaded = await loadSpec(file);
    expect(loaded.file).toBe(resolve(file));
    expect(loaded.dir).toBe(join(dir, 'bundles'));
    expect(loaded.spec).toEqual({
      apiVersion: 'kubechat.io/v1',
      kind: 'Bundle',
      metadata: { name: 'demo', version: '1.2.3-rc.1+build.5', description: 'a demo bundle' },
      spec: {
        platforms: ['linux/amd64', 'linux/arm64/v8'],
        images: [{ ref: 'kubechat/hello:1.0', from: 'oci:./sources/hello:1.0' }],
        charts: [{ path: '../charts/kubechat' }],
        models: [{ name: 'assist:1.0', gguf: './models/assist.gguf', modelfile: './models/Modelfile' }],
        files: [{ path: '../docs', target: 'docs/guides' }],
      },
    });
  });

  it('Given a minimal spec with an empty spec section, When loaded, Then it is valid', async () => {
    const file = await specFile(
      'apiVersion: kubechat.io/v1\nkind: Bundle\nmetadata: {name: x, version: 0.0.1}\nspec: {}\n',
    );
    expect((await loadSpec(file)).spec.metadata).toEqual({ name: 'x', version: '0.0.1' });
  });

  it.each([
    ['top level', withLine('kind: Bundle', 'kind: Bundle\nlabels: {a: b}'), 'labels', 'the top level'],
    ['metadata', withLine('  name: demo', '  name: demo\n  owner: me'), 'owner', 'metadata'],
    ['spec', withLine('  platforms:', '  imagez: []\n  platforms:'), 'imagez', 'spec'],
    [
      'an image',
      withLine("from: 'oci:./sources/hello:1.0' }", "from: 'oci:./x', tag: v1 }"),
      'tag',
      'spec.images.0',
    ],
  ])(
    'Given an unknown field in %s, When loaded, Then a spec error (exit 3) names the field and where',
    async (_w, text, field, at) => {
      const err = await failure(text);
      expect(err.exitCode).toBe(3);
      expect(err.message).toContain(`unknown field "${field}" at ${at}`);
    },
  );

  it('Given no metadata.version, When loaded, Then exit 3 says the field is missing', async () => {
    const err = await failure(withLine('  version: 1.2.3-rc.1+build.5\n', ''));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('missing field "version" at metadata');
  });

  it.each(['1.0', 'v1.0.0', '01.2.3', '1.2.3-', 'latest'])(
    'Given the version %s (not semver), When loaded, Then exit 3 points at metadata.version',
    async (version) => {
      const err = await failure(withLine('version: 1.2.3-rc.1+build.5', `version: '${version}'`));
      expect(err.exitCode).toBe(3);
      expect(err.message).toMatch(/metadata\.version must match pattern/);
    },
  );

  it('Given a numeric version (YAML reads 1.0 as a number), When loaded, Then exit 3 says it must be a string', async () => {
    const err = await failure(withLine('version: 1.2.3-rc.1+build.5', 'version: 1.0'));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('metadata.version must be string');
  });

  it('Given the wrong apiVersion, When loaded, Then exit 3 names the expected one', async () => {
    const err = await failure(withLine('apiVersion: kubechat.io/v1', 'apiVersion: kubechat.io/v2'));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('apiVersion must be "kubechat.io/v1"');
  });

  it('Given a file target that escapes files/, When loaded, Then exit 3 points at it', async () => {
    const err = await failure(withLine('target: docs/guides', 'target: ../etc'));
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('spec.files.0.target');
  });

  it('Given invalid YAML, When loaded, Then exit 3 says so with the line number', async () => {
    // Line 5 is indented one space too far.
    const err = await failure(withLine('  version: 1.2.3-rc.1+build.5', '   version: 1.2.3'));
    expect(err.exitCode).toBe(3);
    expect(err.message).toMatch(/not valid YAML: bad indentation of a mapping entry \(line 5\)$/);
    expect(err.fix).toContain('YAML');
  });

  it('Given a YAML document that is not a mapping, When loaded, Then exit 3', async () => {
    const err = await failure('- just\n- a list\n');
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('the top level');
  });

  it('Given a spec file that does not exist, When loaded, Then a spec error (exit 3) says it was not found', async () => {
    const missing = join(dir, 'nope.yaml');
    const err = await loadSpec(missing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).exitCode).toBe(3);
    expect((err as KubechatError).message).toBe(`${missing}: spec file not found`);
    expect((err as KubechatError).fix).toContain('-f');
  });

  it('Given a directory instead of a spec file, When loaded, Then exit 4 says it is a directory', async () => {
    const err = await loadSpec(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).exitCode).toBe(4);
    expect((err as KubechatError).message).toContain('is a directory');
  });
});

describe('parseOciFrom', () => {
  const base = '/specs/bundles';
  it.each([
    ['oci:./x:1.0', '/specs/bundles/x', '1.0'],
    ['oci:./x', '/specs/bundles/x', undefined],
    ['oci:/abs/dir:tag', '/abs/dir', 'tag'],
    ['oci:./a:b/c', '/specs/bundles/a:b/c', undefined],
    ['oci:../sources/hello:v1.2.3-rc.1', '/specs/sources/hello', 'v1.2.3-rc.1'],
    ['oci:./x:', '/specs/bundles/x', undefined],
    ['oci:rel/dir', '/specs/bundles/rel/dir', undefined],
  ])('Given %s, When parsed, Then the layout is %s and the tag %s', (from, layoutDir, tag) => {
    expect(parseOciFrom(from, base)).toEqual({ layoutDir, tag });
  });
});

describe('bundles/kubechat.yaml (the product bundle)', () => {
  it('passes schema validation and pins every upstream artifact', async () => {
    const loaded = await loadSpec(resolve('bundles/kubechat.yaml'));
    const s = loaded.spec.spec;
    const refs = (s.images ?? []).map((i) => i.ref);
    for (const want of [
      'ollama/ollama',
      'library/postgres',
      'library/redis',
      'library/registry',
      'k8s-device-plugin',
      'ingress-nginx/controller',
    ]) {
      expect(
        refs.some((r) => r.includes(want)),
        want,
      ).toBe(true);
    }
    // Pinned: a release tag on every image and chart, never latest.
    for (const r of refs) expect(r).toMatch(/:[^:/]+$/);
    expect(refs.some((r) => r.endsWith(':latest'))).toBe(false);
    expect(s.charts).toContainEqual({ path: '../charts/kubechat' });
    for (const c of s.charts ?? []) if ('repo' in c) expect(c.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect((s.models ?? []).map((m) => m.name)).toContain('llama3.2:1b');
    for (const m of s.models ?? []) expect(m.name).toMatch(/:[^:]+$/);
  });

  it('accepts every remote source form and rejects mixed ones with a message naming the entry', async () => {
    const ok = await specFile(`apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: r, version: 1.0.0}
spec:
  images:
    - {ref: nginx:1.27}
    - {ref: "docker.io/library/nginx:1.27", from: "docker://mirror.example.com/library/nginx:1.27"}
  charts:
    - {name: web, repo: "https://charts.example.com", version: 1.0.0}
    - {ref: "oci://ghcr.io/org/charts/web:1.0.0"}
  models:
    - {name: "llama3.2:1b"}
    - {from: "ollama://models.example.com:5000/library/tiny:1b"}
    - {name: "tiny:1b", from: "ollama-store:/var/lib/ollama/models"}
`);
    await expect(loadSpec(ok)).resolves.toBeDefined();
    const mixedChart = await failure(
      VALID.replace('- path: ../charts/kubechat', '- {path: ../charts/kubechat, ref: "oci://h/c:1"}'),
    );
    expect(mixedChart.message).toContain('spec.charts.0');
    const noVersion = await failure(
      VALID.replace('- path: ../charts/kubechat', '- {name: web, repo: "https://c.example.com"}'),
    );
    expect(noVersion.message).toContain('"repo" needs "version"');
    const both = await failure(VALID.replace('modelfile: ./models/Modelfile }', "from: 'ollama-store:/x' }"));
    expect(both.message).toContain('spec.models.0');
  });
});
