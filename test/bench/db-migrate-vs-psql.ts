/**
 * Benchmark (issue 6): applying the full schema to an empty database, `kubechat db migrate`
 * (history, checksums, advisory lock, one transaction per migration) against
 * `psql --single-transaction -f V001 -f V002 -f V003` on the same files and server, in one run.
 * Prints the median of each (in-process runner, the CLI including Node start-up, psql) and the
 * ratios. Not a test: it asserts nothing and is never run by `npm test`.
 *
 *   npm run build && npx tsc -p tsconfig.scripts.json && node dist-scripts/test/bench/db-migrate-vs-psql.js
 *   KUBECHAT_TEST_PG=postgres://postgres@127.0.0.1:5432/postgres KUBECHAT_BENCH_RUNS=9 …
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { migrate } from '../../src/db/migrate.js';
import { loadMigrationDir, SHIPPED_MIGRATIONS_DIR } from '../../src/db/migration-set.js';
import { ROOT } from '../support/cli.js';
import { freshDatabase } from '../support/postgres.js';
import { median } from './common.js';

const RUNS = Number(process.env.KUBECHAT_BENCH_RUNS ?? 7);

async function timed(
  work: (url: string, pool: Awaited<ReturnType<typeof freshDatabase>>['pool']) => Promise<void>,
) {
  const db = await freshDatabase('kc_bench');
  try {
    const t = process.hrtime.bigint();
    await work(db.url, db.pool);
    return Number(process.hrtime.bigint() - t) / 1e6;
  } finally {
    await db.drop();
  }
}

async function main() {
  const set = await loadMigrationDir();
  const files = set.map((m) => join(SHIPPED_MIGRATIONS_DIR, m.file));
  const api: number[] = [];
  const cli: number[] = [];
  const psql: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    psql.push(
      await timed(async (url) => {
        const r = spawnSync('psql', [
          url,
          '-X',
          '-q',
          '-v',
          'ON_ERROR_STOP=1',
          '--single-transaction',
          ...files.flatMap((f) => ['-f', f]),
        ]);
        if (r.status !== 0) throw new Error(`psql failed: ${r.stderr.toString()}`);
      }),
    );
    api.push(
      await timed(async (_url, pool) => {
        await migrate(pool, set);
      }),
    );
    cli.push(
      await timed(async (url) => {
        const r = spawnSync(process.execPath, [
          join(ROOT, 'bin', 'run.js'),
          'db',
          'migrate',
          '--database-url',
          url,
          '--json',
        ]);
        if (r.status !== 0) throw new Error(`kubechat failed: ${r.stdout.toString()}`);
      }),
    );
  }
  const p = median(psql);
  const a = median(api);
  const c = median(cli);
  console.log(`schema: ${set.length} migrations, ${RUNS} runs each, medians`);
  console.log(`psql --single-transaction:  ${p.toFixed(0)} ms`);
  console.log(`kubechat migrate (runner):  ${a.toFixed(0)} ms  ratio ${(a / p).toFixed(2)}`);
  console.log(
    `kubechat db migrate (CLI):  ${c.toFixed(0)} ms  ratio ${(c / p).toFixed(2)} (includes Node start-up)`,
  );
}

await main();
