/**
 * Benchmark (issue 24): how fast Ctrl-C is answered, and how often progress is redrawn, while
 * `kubechat bundle create --level 19` compresses (zstd's slowest levels, where one call used to
 * block the event loop for a whole 32 MiB frame: 12-17 s). Runs on a pseudo-terminal, types ^C two
 * seconds into the compression, and prints the median time from ^C to exit (target < 1 s) and the
 * median of the longest gap between progress redraws (target <= 1 s). Not a test: it asserts nothing.
 *
 *   npm run bench:interrupt
 *   KUBECHAT_BENCH_DIR=/big/disk KUBECHAT_BENCH_RUNS=7 npm run bench:interrupt
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { onTerminal, plain, text } from '../support/pty.js';
import { benchDir, median } from './common.js';

const MiB = 1024 * 1024;
const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 5);

const dir = await benchDir('kubechat-bench-interrupt-');
try {
  await mkdir(join(dir, 'data'));
  // Compressible, so zstd does its full work at level 19 (incompressible data is stored raw).
  await writeFile(join(dir, 'data', 'docs.txt'), text(96 * MiB));
  const spec = join(dir, 'spec.yaml');
  await writeFile(
    spec,
    `apiVersion: kubechat.io/v1
kind: Bundle
metadata: { name: slow, version: 1.0.0 }
spec:
  platforms: [linux/amd64]
  files:
    - { path: ./data, target: docs }
`,
  );
  const latencies: number[] = [];
  const gaps: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const out = join(dir, `out-${i}`);
    let shown = '';
    let shownAt = 0;
    let gap = 0;
    const r = await onTerminal(['bundle', 'create', '-f', spec, '-o', out, '--level', '19'], {
      ctrlC: /Writing slow-1\.0\.0\.kcb\.tar\.zst: \d+%/,
      ctrlCAfterMs: 2000,
      onScreen: (raw) => {
        // The bytes written, as last drawn: a redraw that moved them.
        const now =
          plain(raw.slice(-400))
            .match(/Writing \S+: \d+% \(([^,)]+)/g)
            ?.pop() ?? '';
        if (now && now !== shown) {
          if (shownAt) gap = Math.max(gap, Date.now() - shownAt);
          shown = now;
          shownAt = Date.now();
        }
      },
    });
    const left = await readdir(out).catch(() => []);
    if (r.code !== 130 || r.typedAt === undefined || left.length > 0)
      throw new Error(`run ${i}: exit ${r.code}, left ${left.join(', ')}\n${plain(r.raw).slice(-2000)}`);
    latencies.push(r.endedAt - r.typedAt);
    gaps.push(gap);
    process.stderr.write(
      `run ${i + 1}: Ctrl-C answered in ${r.endedAt - r.typedAt} ms, longest redraw gap ${gap} ms\n`,
    );
  }
  console.log(
    `bundle create --level 19, Ctrl-C to exit: median ${median(latencies)} ms over ${RUNS} runs (target < 1000 ms)`,
  );
  console.log(`longest gap between progress redraws: median ${median(gaps)} ms (target <= 1000 ms)`);
  console.log(`machine: ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(1)}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
