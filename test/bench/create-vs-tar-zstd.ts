/**
 * Benchmark (issue 2): `kubechat bundle create` against `tar -cf - inputs | zstd -3 -T0` on the same
 * ~1.2 GiB of inputs, in one run: a 512 MiB GGUF of pseudo-random bytes, two images of ten 32 MiB
 * layers each, and the KubeChat chart. Prints both times, the ratio (target <= 1.1) and kubechat's
 * peak RSS (target <= 400 MiB). Not a test: it asserts nothing and is never run by `npm test`.
 *
 *   npm run bench            (inputs in a temp dir, removed afterwards)
 *   KUBECHAT_BENCH_DIR=/big/disk npm run bench
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeGguf } from '../support/gguf-fixture.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { ROOT } from '../support/cli.js';
import { benchDir, median } from './common.js';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 3);

async function makeInputs(dir: string) {
  const inputs = join(dir, 'inputs');
  await mkdir(join(inputs, 'models'), { recursive: true });
  await writeGguf(join(inputs, 'models', 'bench.gguf'), { name: 'bench', fileType: 15, padTo: 512 * MiB });
  for (const name of ['api', 'worker']) {
    // Image layers ship gzip-compressed, as registries serve them.
    const layers = Array.from({ length: 10 }, (_, i) => ({ size: 32 * MiB, seed: `${name}-${i}` }));
    await writeOciLayout(join(inputs, name), { tag: '1.0', layers, gzip: true });
  }
  spawnSync('cp', ['-r', join(ROOT, 'charts', 'kubechat'), join(inputs, 'chart')]);
  const spec = join(dir, 'bench.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: bench, version: 1.0.0}
spec:
  images:
    - {ref: "bench/api:1.0", from: "oci:./inputs/api:1.0"}
    - {ref: "bench/worker:1.0", from: "oci:./inputs/worker:1.0"}
  charts:
    - {path: ./inputs/chart}
  models:
    - {name: "bench:1.0", gguf: ./inputs/models/bench.gguf}
`,
  );
  return { inputs, spec };
}

/** Runs a shell command under GNU time; returns wall seconds and peak RSS in KiB. */
function timed(cmd: string): { seconds: number; rssKiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M', 'bash', '-o', 'pipefail', '-c', cmd], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  const [seconds, rss] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: seconds!, rssKiB: rss! };
}

const dir = await benchDir('kubechat-bench-');
try {
  process.stderr.write(`generating inputs in ${dir} ...\n`);
  const { inputs, spec } = await makeInputs(dir);
  spawnSync('bash', ['-c', `cat $(find '${inputs}' -type f) > /dev/null`]); // same warm page cache for both
  const bin = join(ROOT, 'bin', 'run.js');
  const ours: number[] = [];
  const theirs: number[] = [];
  const theirsSynced: number[] = [];
  let rss = 0;
  let bundleBytes = 0;
  let refBytes = 0;
  for (let i = 0; i < RUNS; i++) {
    // Each run starts with no dirty pages left by the previous one.
    spawnSync('sync');
    const ref = timed(`tar -cf - -C '${dir}' inputs | zstd -3 -T0 -q -f -o '${dir}/ref.tar.zst'`);
    theirs.push(ref.seconds);
    spawnSync('sync');
    // kubechat fsyncs the bundle before renaming it into place (a bundle that exists is on the
    // medium); this is the reference with the same guarantee.
    const refSynced = timed(
      `tar -cf - -C '${dir}' inputs | zstd -3 -T0 -q -f -o '${dir}/ref.tar.zst' && sync '${dir}/ref.tar.zst'`,
    );
    theirsSynced.push(refSynced.seconds);
    refBytes = Number(spawnSync('stat', ['-c', '%s', `${dir}/ref.tar.zst`], { encoding: 'utf8' }).stdout);
    spawnSync('sync');
    const k = timed(
      `'${process.execPath}' '${bin}' bundle create -f '${spec}' -o '${dir}/out' --json > /dev/null`,
    );
    ours.push(k.seconds);
    rss = Math.max(rss, k.rssKiB);
    bundleBytes = Number(
      spawnSync('stat', ['-c', '%s', `${dir}/out/bench-1.0.0.kcb.tar.zst`], { encoding: 'utf8' }).stdout,
    );
  }
  const [o, t, ts] = [median(ours), median(theirs), median(theirsSynced)];
  const lines = [
    `inputs: ${(Number(spawnSync('du', ['-sb', inputs], { encoding: 'utf8' }).stdout.split('\t')[0]) / MiB).toFixed(0)} MiB, ${RUNS} runs each, medians`,
    `tar | zstd -3 -T0: ${t.toFixed(2)} s, with fsync of the output ${ts.toFixed(2)} s  (${(refBytes / MiB).toFixed(0)} MiB)`,
    `kubechat bundle create (fsyncs its output): ${o.toFixed(2)} s  (${(bundleBytes / MiB).toFixed(0)} MiB), peak RSS ${(rss / 1024).toFixed(0)} MiB`,
    `ratio kubechat/tar+zstd: ${(o / ts).toFixed(2)}x against the fsynced reference, ${(o / t).toFixed(2)}x against the plain one (target <= 1.10x)`,
    `peak RSS: ${(rss / 1024).toFixed(0)} MiB (target <= 400 MiB)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await rm(dir, { recursive: true, force: true });
}
