/**
 * Benchmark (issue 3): full `kubechat bundle verify` of a ~1 GiB signed bundle against
 * `zstd -dc B | sha256sum` on the same file, in one run, and the cost of signing and of checking a
 * signature. Prints both times, the throughput ratio (target >= 0.80) and the per-bundle signing and
 * signature-verification times (target < 50 ms). Not a test: it asserts nothing.
 *
 *   npm run bench:verify            (inputs in a temp dir, removed afterwards)
 *   KUBECHAT_BENCH_DIR=/big/disk KUBECHAT_BENCH_RUNS=5 npm run bench:verify
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeGguf } from '../support/gguf-fixture.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { ROOT } from '../support/cli.js';
import { benchDir, loadBuilt, median, timedCpu as timed } from './common.js';

// The built modules (dist/), as the CLI runs them: they find schemas/ relative to themselves.
const { openBundle } = await loadBuilt<typeof import('../../src/bundle/reader.js')>('bundle/reader.js');
const { loadSigningKey, readPublicKey } =
  await loadBuilt<typeof import('../../src/signing/keys.js')>('signing/keys.js');
const { signManifest, verifyManifestSignature } =
  await loadBuilt<typeof import('../../src/signing/signature.js')>('signing/signature.js');

const MiB = 1024 * 1024;
const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 3);

const dir = await benchDir('kubechat-bench-verify-');
const bin = join(ROOT, 'bin', 'run.js');
const node = process.execPath;
try {
  process.stderr.write(`generating inputs in ${dir} ...\n`);
  const inputs = join(dir, 'inputs');
  await mkdir(join(inputs, 'models'), { recursive: true });
  await writeGguf(join(inputs, 'models', 'bench.gguf'), { name: 'bench', fileType: 15, padTo: 512 * MiB });
  for (const name of ['api', 'worker']) {
    const layers = Array.from({ length: 8 }, (_, i) => ({ size: 32 * MiB, seed: `${name}-${i}` }));
    await writeOciLayout(join(inputs, name), { tag: '1.0', layers, gzip: true });
  }
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
  models:
    - {name: "bench:1.0", gguf: ./inputs/models/bench.gguf}
`,
  );
  const env = { ...process.env, KUBECHAT_KEY_PASSPHRASE: '', KUBECHAT_TRUST_DIR: join(dir, 'trust') };
  const run = (args: string[]) => {
    const r = spawnSync(node, [bin, ...args], { encoding: 'utf8', env });
    if (r.status !== 0) throw new Error(`kubechat ${args.join(' ')}: ${r.stderr}`);
  };
  run(['keys', 'generate', '--out', join(dir, 'bench'), '--no-passphrase']);
  run([
    'bundle',
    'create',
    '-f',
    spec,
    '-o',
    join(dir, 'out'),
    '--key',
    join(dir, 'bench.key'),
    '--expires',
    '30d',
  ]);
  const bundle = join(dir, 'out', 'bench-1.0.0.kcb.tar.zst');
  const size = Number(spawnSync('stat', ['-c', '%s', bundle], { encoding: 'utf8' }).stdout);
  const tarSize = Number(
    spawnSync('bash', ['-c', `zstd -dc '${bundle}' | wc -c`], { encoding: 'utf8' }).stdout,
  );
  spawnSync('bash', ['-c', `cat '${bundle}' > /dev/null`]); // same warm page cache for both

  const ours: Array<{ wall: number; cpu: number }> = [];
  const theirs: Array<{ wall: number; cpu: number }> = [];
  const pub = join(dir, 'bench.pub');
  for (let i = 0; i < RUNS; i++) {
    theirs.push(timed(`zstd -dc '${bundle}' | sha256sum > /dev/null`));
    ours.push(
      timed(
        `'${node}' '${bin}' bundle verify '${bundle}' --trusted-key '${pub}' --require-signature --json > /dev/null`,
      ),
    );
  }

  // Signing and signature verification, in process, on this bundle's real manifest.
  const key = await loadSigningKey(join(dir, 'bench.key'), undefined);
  const trusted = [{ ...(await readPublicKey(pub)), source: pub }];
  const opened = await openBundle(bundle);
  const signMs: number[] = [];
  const verifyMs: number[] = [];
  for (let i = 0; i < 200; i++) {
    let t = performance.now();
    const sig = await signManifest(opened.manifestBytes, opened.manifest, key, opened.manifest.expires);
    signMs.push(performance.now() - t);
    t = performance.now();
    verifyManifestSignature(opened.manifestBytes, opened.manifest, sig, trusted);
    verifyMs.push(performance.now() - t);
  }
  key.dispose();

  const [o, t] = [median(ours.map((x) => x.wall)), median(theirs.map((x) => x.wall))];
  const [oc, tc] = [median(ours.map((x) => x.cpu)), median(theirs.map((x) => x.cpu))];
  const mbs = (s: number) => (tarSize / MiB / s).toFixed(0);
  const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;
  const lines = [
    `bundle: ${(size / MiB).toFixed(0)} MiB compressed, ${(tarSize / MiB).toFixed(0)} MiB of tar; ${RUNS} runs each, medians`,
    `load average (1 min) at the end: ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`,
    `zstd -dc B | sha256sum: ${t.toFixed(2)} s (${mbs(t)} MiB/s), ${tc.toFixed(2)} s of CPU`,
    `kubechat bundle verify (signature + every entry, process start included): ${o.toFixed(2)} s (${mbs(o)} MiB/s), ${oc.toFixed(2)} s of CPU`,
    `throughput ratio kubechat/reference: ${(t / o).toFixed(2)} (target >= 0.80)`,
    `signing: median ${median(signMs).toFixed(2)} ms, p95 ${p95(signMs).toFixed(2)} ms per bundle; ` +
      `signature verification: median ${median(verifyMs).toFixed(2)} ms, p95 ${p95(verifyMs).toFixed(2)} ms (target < 50 ms)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await rm(dir, { recursive: true, force: true });
}
