/**
 * Benchmark (issue 5): `skopeo copy docker://… oci:DIR` of one image with a single 256 MiB layer,
 * pulled from `kubechat registry serve BUNDLE` (read in place through the seek table) and from a real
 * CNCF distribution registry (`docker-registry`, filesystem storage) holding the same image, pushed
 * there with `skopeo copy oci:… docker://…`. Same client, same image, same run; prints both medians
 * and the ratio. Not a test: it asserts nothing and is never run by `npm test`.
 *
 *   npm run bench:serve                   (inputs in a temp dir, removed afterwards)
 *   KUBECHAT_BENCH_RUNS=5 KUBECHAT_BENCH_DIR=/big/disk npm run bench:serve
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ROOT } from '../support/cli.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { startRegistry } from '../support/registry.js';
import { startServe } from '../support/serve.js';
import { benchDir, median } from './common.js';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 5);
const LAYER = Number(process.env.KUBECHAT_BENCH_LAYER_MIB ?? 256) * MiB;

function run(cmd: string): void {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** Wall seconds of one pull into a fresh OCI layout, and the CPU seconds the server spent on it. */
function pull(address: string, dest: string, serverPid: number): { wall: number; cpu: number } {
  spawnSync('rm', ['-rf', dest]);
  const cpu = cpuSeconds(serverPid);
  const started = performance.now();
  run(`skopeo copy -q --src-tls-verify=false docker://${address}/bench/app:1.0 oci:${dest}:app`);
  return { wall: (performance.now() - started) / 1000, cpu: cpuSeconds(serverPid) - cpu };
}

const dir = await benchDir('kubechat-bench-serve-');
const registry = await startRegistry({ storage: join(dir, 'registry') });
let serve: Awaited<ReturnType<typeof startServe>> | undefined;
try {
  process.stderr.write(`generating a ${LAYER / MiB} MiB single-layer image in ${dir} ...\n`);
  // A gzip layer, as registries serve them (and so skopeo pushes it unchanged).
  await writeOciLayout(join(dir, 'image'), {
    tag: '1.0',
    layers: [{ size: LAYER, seed: 'bench-serve' }],
    gzip: true,
  });
  const spec = join(dir, 'bench.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: bench-serve, version: 1.0.0}
spec:
  images:
    - {ref: "bench/app:1.0", from: "oci:./image:1.0"}
`,
  );
  const bin = join(ROOT, 'bin', 'run.js');
  run(`'${process.execPath}' '${bin}' bundle create -f '${spec}' -o '${dir}/out' --json > /dev/null`);
  run(
    `skopeo copy -q --preserve-digests --dest-tls-verify=false oci:${dir}/image:1.0 docker://${registry.host}/bench/app:1.0`,
  );
  serve = await startServe([join(dir, 'out', 'bench-serve-1.0.0.kcb.tar.zst'), '--addr', '127.0.0.1:0']);
  // Both must serve the very same bytes, or the comparison means nothing.
  const digest = (address: string) =>
    spawnSync(
      'bash',
      ['-c', `skopeo inspect --tls-verify=false --raw docker://${address}/bench/app:1.0 | sha256sum`],
      {
        encoding: 'utf8',
      },
    ).stdout.split(' ')[0];
  if (digest(serve.info.address) !== digest(registry.host))
    throw new Error('the two registries serve different manifests');
  const dest = join(dir, 'pulled');
  // One untimed pull each: both start with their data in the page cache.
  const servePid = serve.child.pid!;
  const registryPid = registry.process.pid!;
  pull(serve.info.address, dest, servePid);
  pull(registry.host, dest, registryPid);
  const ours: Array<{ wall: number; cpu: number }> = [];
  const theirs: Array<{ wall: number; cpu: number }> = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate the order so neither side always runs right after the other's writes.
    if (i % 2 === 0) {
      ours.push(pull(serve.info.address, dest, servePid));
      theirs.push(pull(registry.host, dest, registryPid));
    } else {
      theirs.push(pull(registry.host, dest, registryPid));
      ours.push(pull(serve.info.address, dest, servePid));
    }
  }
  const [o, t] = [median(ours.map((x) => x.wall)), median(theirs.map((x) => x.wall))];
  const [oc, tc] = [median(ours.map((x) => x.cpu)), median(theirs.map((x) => x.cpu))];
  const rate = (s: number) => `${(LAYER / MiB / s).toFixed(0)} MiB/s`;
  process.stdout.write(
    [
      `image: one ${LAYER / MiB} MiB gzip layer, manifest sha256:${digest(registry.host)}; skopeo copy docker://… oci:DIR, ${RUNS} runs each, medians`,
      `docker-registry (filesystem storage): ${t.toFixed(2)} s (${rate(t)}), server CPU ${tc.toFixed(2)} s  runs: ${theirs.map((x) => x.wall.toFixed(2)).join(' ')}`,
      `kubechat registry serve (bundle, in place): ${o.toFixed(2)} s (${rate(o)}), server CPU ${oc.toFixed(2)} s  runs: ${ours.map((x) => x.wall.toFixed(2)).join(' ')}`,
      `ratio kubechat/docker-registry: ${(o / t).toFixed(2)}x wall, ${(oc / tc).toFixed(2)}x server CPU`,
    ].join('\n') + '\n',
  );
} finally {
  await serve?.stop();
  await registry.stop();
  await rm(dir, { recursive: true, force: true });
}
