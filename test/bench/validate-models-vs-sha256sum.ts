/**
 * Benchmark (issue 7): the models suite's re-hash of an Ollama store against `sha256sum` of the same
 * blob files, in one run. Two GGUF models (512 and 256 MiB of pseudo-random weights) are installed
 * into an Ollama models directory; then, alternating, `sha256sum STORE/blobs/*` and
 * `kubechat validate --suite models --bundle B --ollama-store STORE` (process start, reading the
 * bundle's manifests and the JSON report included), and the re-hash alone in process
 * (verifyOllamaStore). Prints the medians and the throughput ratio (target >= 0.80). Both read
 * from a warm page cache. Not a test: it asserts nothing.
 *
 *   npm run bench:validate
 *   KUBECHAT_BENCH_DIR=/big/disk KUBECHAT_BENCH_RUNS=5 npm run bench:validate
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeGguf } from '../support/gguf-fixture.js';
import { ROOT } from '../support/cli.js';
import { benchDir, loadBuilt, median, timedCpu as timed } from './common.js';

const { verifyOllamaStore } =
  await loadBuilt<typeof import('../../src/models/verify.js')>('models/verify.js');

const MiB = 1024 * 1024;
const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 3);

const dir = await benchDir('kubechat-bench-validate-');
const bin = join(ROOT, 'bin', 'run.js');
const node = process.execPath;
try {
  process.stderr.write(`generating inputs in ${dir} ...\n`);
  const models = join(dir, 'inputs', 'models');
  await mkdir(models, { recursive: true });
  await writeGguf(join(models, 'big.gguf'), { name: 'big', fileType: 15, padTo: 512 * MiB });
  await writeGguf(join(models, 'small.gguf'), { name: 'small', fileType: 15, padTo: 256 * MiB });
  const spec = join(dir, 'bench.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: bench, version: 1.0.0}
spec:
  models:
    - {name: "big:1.0", gguf: ./inputs/models/big.gguf}
    - {name: "small:1.0", gguf: ./inputs/models/small.gguf}
`,
  );
  const env = { ...process.env, KUBECHAT_STATE_DIR: join(dir, 'state'), KUBECHAT_DATABASE_URL: '' };
  const run = (args: string[]) => {
    const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`kubechat ${args.join(' ')}: ${r.stderr}`);
  };
  run(['bundle', 'create', '-f', spec, '-o', join(dir, 'out')]);
  const bundle = join(dir, 'out', 'bench-1.0.0.kcb.tar.zst');
  const store = join(dir, 'ollama');
  run(['install', bundle, '--allow-unsigned', '--no-validate', '--ollama-store', store]);
  const blobs = join(store, 'blobs');
  let bytes = 0;
  for (const f of await readdir(blobs)) bytes += (await stat(join(blobs, f))).size;
  spawnSync('bash', ['-c', `cat '${blobs}'/* > /dev/null`]); // the same warm page cache for both

  const validate = `'${node}' '${bin}' validate --suite models --bundle '${bundle}' --ollama-store '${store}' --json > /dev/null`;
  const ours: Array<{ wall: number; cpu: number }> = [];
  const theirs: Array<{ wall: number; cpu: number }> = [];
  const inProcess: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    theirs.push(timed(`sha256sum '${blobs}'/* > /dev/null`));
    ours.push(timed(validate));
    const t = performance.now();
    const checks = await verifyOllamaStore(store);
    inProcess.push((performance.now() - t) / 1000);
    if (checks.some((c) => c.problems.length)) throw new Error('the store did not verify');
  }

  const [o, t, p] = [median(ours.map((x) => x.wall)), median(theirs.map((x) => x.wall)), median(inProcess)];
  const [oc, tc] = [median(ours.map((x) => x.cpu)), median(theirs.map((x) => x.cpu))];
  const mbs = (s: number) => (bytes / MiB / s).toFixed(0);
  const lines = [
    `store: ${(bytes / MiB).toFixed(0)} MiB in ${(await readdir(blobs)).length} blobs (2 models); ${RUNS} runs each, medians`,
    `load average (1 min) at the end: ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`,
    `sha256sum STORE/blobs/*: ${t.toFixed(2)} s (${mbs(t)} MiB/s), ${tc.toFixed(2)} s of CPU`,
    `kubechat validate --suite models (process start included): ${o.toFixed(2)} s (${mbs(o)} MiB/s), ${oc.toFixed(2)} s of CPU`,
    `re-hash alone (verifyOllamaStore, in process): ${p.toFixed(2)} s (${mbs(p)} MiB/s)`,
    `throughput ratio kubechat/sha256sum: ${(t / o).toFixed(2)} (target >= 0.80); re-hash alone: ${(t / p).toFixed(2)}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await rm(dir, { recursive: true, force: true });
}
