/** A temporary project with generated sources and spec files for versions of the demo bundle. */
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.js';
import { writeDemoSources, type DemoSourcesOptions } from './demo-sources.js';

/** Writes `DIR/NAME.yaml`: a bundle spec named NAME, version 1.0.0, with `body` (indented YAML) under spec:. */
export async function writeSpec(dir: string, name: string, body: string): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(
    file,
    `apiVersion: kubechat.io/v1\nkind: Bundle\nmetadata: {name: ${name}, version: 1.0.0}\nspec:\n${body}`,
  );
  return file;
}

export interface Workspace {
  dir: string;
  out: string;
  /** Writes sources + spec for `version` and returns the spec path. */
  spec(version: string, sources?: DemoSourcesOptions, extra?: string): Promise<string>;
}

export async function makeWorkspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'kubechat-it-'));
  const out = join(dir, 'out');
  await cp(join(ROOT, 'charts', 'kubechat'), join(dir, 'charts', 'kubechat'), { recursive: true });
  await mkdir(join(dir, 'docs', 'guide'), { recursive: true });
  await writeFile(join(dir, 'docs', 'index.md'), '# KubeChat docs\n');
  await writeFile(join(dir, 'docs', 'guide', 'install.md'), '# Install\nRun kubechat install.\n');
  await writeFile(join(dir, 'docs', 'guide', 'preflight.sh'), '#!/bin/sh\necho preflight ok\n', {
    mode: 0o755,
  });
  return {
    dir,
    out,
    async spec(version, sources = {}, extra = '') {
      const src = join(dir, `sources-${version}`);
      await writeDemoSources(src, sources);
      const file = join(dir, `demo-${version}.yaml`);
      await writeFile(
        file,
        `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: demo, version: ${version}}
spec:
  platforms: [linux/amd64]
  images:
    - {ref: "demo/hello:1.0", from: "oci:./sources-${version}/hello:1.0"}
  charts:
    - {path: ./charts/kubechat}
  models:
    - {name: "assist:1.0", gguf: ./sources-${version}/models/assist.gguf}
  files:
    - {path: ./docs, target: docs}
${extra}`,
      );
      return file;
    },
  };
}
