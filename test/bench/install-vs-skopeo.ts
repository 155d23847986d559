/**
 * Benchmark (issue 5): `kubechat install` of two 128 MiB images from a bundle into a loopback
 * docker-registry, against `skopeo copy oci:… docker://…` of the same images (from an OCI layout on
 * disk, already uncompressed) into another, in one run; then a re-run of the finished install.
 * Prints the times and ratios (targets: install <= 0.8x skopeo, re-run < 10% of the first install),
 * and the CPU seconds of each side and of the registry it pushed to. Also, in the same runs, the Node
 * floor (floor-push.ts): a bare undici upload of the two large layers alone, with and without sha256
 * on the way, so the ratio can be read against what this machine allows a Node client that verifies.
 * Not a test: it asserts nothing and is never run by `npm test`.
 *
 *   npm run bench:install       (inputs in a temp dir, removed afterwards)
 *   KUBECHAT_BENCH_INSTALL_FLAGS=--no-validate npm run bench:install   (the push alone)
 *   KUBECHAT_BENCH_DIR=/big/disk KUBECHAT_BENCH_RUNS=3 npm run bench:install
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { writeOciLayout } from '../support/oci-fixture.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';
import { benchDir, median, timedCpu } from './common.js';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 3);
const IMAGES = ['api', 'worker'];
/** Extra install flags, e.g. KUBECHAT_BENCH_INSTALL_FLAGS=--no-validate to time the push alone. */
const EXTRA = process.env.KUBECHAT_BENCH_INSTALL_FLAGS ?? '';

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) a running process has used so far, from /proc. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime (fields 14 and 15)
}

/**
 * Wall seconds of a shell command, its CPU seconds (GNU time: user + system of all its processes)
 * and the CPU seconds the registry it talks to used meanwhile: on a small machine the push is bound
 * by the CPU both need, so these say more than wall time when the machine is shared.
 */
function run(
  cmd: string,
  registry: TestRegistry,
): { seconds: number; cpu: number; registryCpu: number; stdout: string } {
  const before = cpuOf(registry.process.pid!);
  const started = process.hrtime.bigint();
  const { cpu, stdout } = timedCpu(cmd);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { seconds, cpu, registryCpu: cpuOf(registry.process.pid!) - before, stdout };
}

/** `run`, plus the install's own time from its --json result (no process start-up). */
function timedInstall(cmd: string, registry: TestRegistry) {
  const r = run(cmd, registry);
  return { ...r, inside: (JSON.parse(r.stdout) as { seconds: number }).seconds };
}

const dir = await benchDir('kubechat-bench-install-');
const registries: TestRegistry[] = [];
try {
  process.stderr.write(`generating inputs in ${dir} ...\n`);
  for (const name of IMAGES) {
    // 128 MiB per image: a small base layer and one large incompressible app layer, gzip as registries serve them.
    const layers = [
      { size: 4 * MiB, seed: `${name}-base` },
      { size: 124 * MiB, seed: `${name}-app` },
    ];
    await writeOciLayout(join(dir, 'inputs', name), { tag: '1.0', layers, gzip: true });
  }
  const spec = join(dir, 'bench.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: {name: bench-install, version: 1.0.0}
spec:
  images:
${IMAGES.map((n) => `    - {ref: "bench/${n}:1.0", from: "oci:./inputs/${n}:1.0"}`).join('\n')}
`,
  );
  const bin = join(ROOT, 'bin', 'run.js');
  const made = spawnSync(
    'bash',
    ['-c', `'${process.execPath}' '${bin}' bundle create -f '${spec}' -o '${dir}/out' --json > /dev/null`],
    { encoding: 'utf8' },
  );
  if (made.status !== 0) throw new Error(`bundle create failed: ${made.stderr}`);
  const bundle = `${dir}/out/bench-install-1.0.0.kcb.tar.zst`;
  spawnSync('bash', ['-c', `cat '${bundle}' $(find '${dir}/inputs' -type f) > /dev/null`]); // warm cache for both
  const ours: number[] = [];
  const theirs: number[] = [];
  // The largest blob of each image: what the floor pushes.
  const large = IMAGES.map((n) => {
    const blobs = join(dir, 'inputs', n, 'blobs', 'sha256');
    return readdirSync(blobs)
      .map((f) => join(blobs, f))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
  });
  const floorBin = join(ROOT, 'dist-scripts', 'test', 'bench', 'floor-push.js');
  const floor = { hashed: [] as number[], bare: [] as number[] };
  // The re-run's floor: the CLI starting, printing its version and exiting.
  const startups: number[] = [];
  const reruns: number[] = [];
  const oursInside: number[] = [];
  const rerunsInside: number[] = [];
  const cpu = {
    ours: [] as number[],
    theirs: [] as number[],
    regOurs: [] as number[],
    regTheirs: [] as number[],
  };
  if (process.env.KUBECHAT_BENCH_KEEP) process.stderr.write(`bundle: ${bundle}\n`);
  for (let i = 0; i < RUNS; i++) {
    const forSkopeo = await startRegistry();
    const forUs = await startRegistry();
    registries.push(forSkopeo, forUs);
    spawnSync('sync');
    const sk = run(
      IMAGES.map(
        (n) =>
          `skopeo copy -q --dest-tls-verify=false oci:'${dir}/inputs/${n}':1.0 docker://${forSkopeo.host}/bench/${n}:1.0`,
      ).join(' && '),
      forSkopeo,
    );
    theirs.push(sk.seconds);
    cpu.theirs.push(sk.cpu);
    cpu.regTheirs.push(sk.registryCpu);
    for (const [flag, into] of [
      ['--sha256', floor.hashed],
      ['', floor.bare],
    ] as const) {
      const reg = await startRegistry();
      registries.push(reg);
      spawnSync('sync');
      into.push(
        run(
          `'${process.execPath}' '${floorBin}' ${reg.host} ${flag} ${large.map((f) => `'${f}'`).join(' ')}`,
          reg,
        ).seconds,
      );
      await reg.stop();
    }
    spawnSync('sync');
    const state = join(dir, `state-${i}`);
    const install = `KUBECHAT_STATE_DIR='${state}' '${process.execPath}' '${bin}' install '${bundle}' --allow-unsigned --registry ${forUs.host} --json ${EXTRA}`;
    const first = timedInstall(install, forUs);
    const again = timedInstall(install, forUs);
    ours.push(first.seconds);
    oursInside.push(first.inside);
    cpu.ours.push(first.cpu);
    cpu.regOurs.push(first.registryCpu);
    reruns.push(again.seconds);
    startups.push(timedCpu(`'${process.execPath}' '${bin}' --version > /dev/null`).wall);
    rerunsInside.push(again.inside);
    await forSkopeo.stop();
    await forUs.stop();
    registries.length = 0;
  }
  const [o, t, r] = [median(ours), median(theirs), median(reruns)];
  // Each run times skopeo and kubechat back to back: the ratio within a run is less exposed to a
  // noisy neighbour than the ratio of medians taken at different moments.
  const perRun = (xs: number[], base: number[]) => median(xs.map((x, i) => x / base[i]!));
  const paired = perRun(ours, theirs);
  const [oi, ri] = [median(oursInside), median(rerunsInside)];
  const lines = [
    `two images of 128 MiB (gzip layers), loopback docker-registry, ${RUNS} runs each, medians` +
      (EXTRA ? ` (install ${EXTRA})` : ' (install with its default preflight and post-install validation)'),
    `skopeo copy oci: -> docker:// (both images): ${t.toFixed(2)} s`,
    `kubechat install from the bundle:            ${o.toFixed(2)} s (${oi.toFixed(2)} s without process start-up)`,
    `kubechat install re-run (already installed): ${r.toFixed(2)} s (${ri.toFixed(2)} s without process start-up)`,
    `ratio install/skopeo: ${(o / t).toFixed(2)}x (target <= 0.80x); median of the per-run ratios ${paired.toFixed(2)}x`,
    `Node floor, the two large layers alone by bare undici (floor-push.ts): ${median(floor.hashed).toFixed(2)} s ` +
      `with sha256 (${perRun(floor.hashed, theirs).toFixed(2)}x of skopeo per run), ` +
      `${median(floor.bare).toFixed(2)} s without (${perRun(floor.bare, theirs).toFixed(2)}x)`,
    `ratio re-run/first install: ${((r / o) * 100).toFixed(1)}% wall, ${((ri / oi) * 100).toFixed(1)}% without start-up (target < 10%)`,
    `kubechat --version (the CLI's start-up alone, the re-run's floor): ${median(startups).toFixed(2)} s, ` +
      `${(perRun(startups, ours) * 100).toFixed(1)}% of the first install per run`,
    `CPU seconds (user + system, medians): kubechat install ${median(cpu.ours).toFixed(2)} + its registry ` +
      `${median(cpu.regOurs).toFixed(2)}; skopeo ${median(cpu.theirs).toFixed(2)} + its registry ` +
      `${median(cpu.regTheirs).toFixed(2)}; ${availableParallelism()} CPU(s)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
} finally {
  await Promise.all(registries.map((r) => r.stop()));
  if (!process.env.KUBECHAT_BENCH_KEEP) await rm(dir, { recursive: true, force: true });
}
