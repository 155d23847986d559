/**
 * Connecting to PostgreSQL: `--database-url` / `KUBECHAT_DATABASE_URL`, or the embedded server
 * under $KUBECHAT_HOME/postgres when neither is given. Connection failures become one-line errors
 * with a fix (exit 40–42); the URL is always shown with its password redacted.
 */
import pg from 'pg';
import { dbError, KubechatError } from '../lib/errors.js';
import { silentReporter, type Reporter } from '../lib/progress.js';
import { startEmbedded } from './embedded.js';

export { DATABASE_URL_ENV } from './env.js';
const CONNECT_TIMEOUT_MS = 10_000;

export interface Database {
  pool: pg.Pool;
  /** The connection URL with its password replaced by `***`: safe to print and log. */
  url: string;
  embedded: boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** postgres:// URL; without one, the embedded server is started. */
  url?: string;
  /** KUBECHAT_HOME for the embedded server (default: $KUBECHAT_HOME, then ~/.local/share/kubechat). */
  home?: string;
  reporter?: Reporter;
}

/** `url` with any password replaced by `***` (also `password=` query parameters). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|token|sslkey/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    // Not a URL we can parse: show nothing that could be a secret.
    return url.replace(/\/\/[^@/]*@/, '//***@');
  }
}

function parseUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new KubechatError(
      'spec',
      `--database-url is not a URL: ${redactUrl(url)}`,
      'use postgres://USER:PASSWORD@HOST:PORT/DATABASE',
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new KubechatError(
      'spec',
      `--database-url must be a postgres:// URL, not ${u.protocol}//…`,
      'use postgres://USER:PASSWORD@HOST:PORT/DATABASE',
    );
  }
  return u;
}

/** Opens the database named by `url`, or starts the embedded one. The caller must `close()` it. */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<Database> {
  const reporter = options.reporter ?? silentReporter;
  if (options.url !== undefined && options.url !== '') {
    parseUrl(options.url);
    const shown = redactUrl(options.url);
    reporter.emit({ task: 'db', title: `Connecting to ${shown}` });
    const pool = await connectPool(options.url, shown);
    return { pool, url: shown, embedded: false, close: () => pool.end() };
  }
  const server = await startEmbedded({ home: options.home, reporter });
  try {
    const pool = await connectPool(server.url, redactUrl(server.url));
    return {
      pool,
      url: redactUrl(server.url),
      embedded: true,
      close: async () => {
        await pool.end().catch(() => undefined);
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function connectPool(url: string, shown: string): Promise<pg.Pool> {
  const pool = new pg.Pool({
    connectionString: url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'kubechat',
    max: 4,
  });
  // An idle client that loses its server must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw describeConnectError(err, shown);
  }
  return pool;
}

/** A connection failure as a one-line KubechatError; the message never holds the password. */
export function describeConnectError(err: unknown, shown: string): KubechatError {
  const e = err as { code?: string; message?: string };
  const u = new URL(shown);
  const where = `${u.hostname}:${u.port || '5432'}`;
  const db = decodeURIComponent(u.pathname.slice(1)) || decodeURIComponent(u.username) || 'postgres';
  switch (e.code) {
    case 'ECONNREFUSED':
      return dbError(
        'dbUnreachable',
        `cannot connect to PostgreSQL at ${where}: connection refused (${shown})`,
        'start PostgreSQL or correct the host and port in {flag:database-url}',
        err,
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return dbError(
        'dbUnreachable',
        `cannot connect to PostgreSQL: host ${u.hostname} not found (${shown})`,
        'correct the host name in {flag:database-url}',
        err,
      );
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return dbError(
        'dbUnreachable',
        `cannot connect to PostgreSQL at ${where}: ${e.code} (${shown})`,
        'check the network path and firewall to the database host',
        err,
      );
    case '28P01':
      return dbError(
        'dbAuth',
        `PostgreSQL at ${where} refused the password for user "${decodeURIComponent(u.username)}"`,
        'correct the password in {flag:database-url} / KUBECHAT_DATABASE_URL',
        err,
      );
    case '28000':
      return dbError(
        'dbAuth',
        `PostgreSQL at ${where} refused the login: ${firstLine(e.message)}`,
        'check the user name and pg_hba.conf on the database server',
        err,
      );
    case '3D000':
      return dbError(
        'dbMissing',
        `database "${db}" does not exist on ${where}`,
        `create it (createdb -h ${u.hostname} -p ${u.port || '5432'} ${db}) or correct the name in {flag:database-url}`,
        err,
      );
    default:
      if (/timeout/i.test(e.message ?? '')) {
        return dbError(
          'dbUnreachable',
          `cannot connect to PostgreSQL at ${where}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s (${shown})`,
          'check that the host and port are right and the server is up',
          err,
        );
      }
      if (/SASL|password/i.test(e.message ?? '')) {
        return dbError(
          'dbAuth',
          `PostgreSQL at ${where} asks for a password that --database-url does not give`,
          'add the password to {flag:database-url} / KUBECHAT_DATABASE_URL',
          err,
        );
      }
      return dbError(
        'dbUnreachable',
        `cannot connect to PostgreSQL at ${where}: ${firstLine(e.message)}`,
        'check {flag:database-url} and that the server accepts connections',
        err,
      );
  }
}

const firstLine = (s: string | undefined) => (s ?? 'unknown error').split('\n')[0]!;

/** A failed query as a KubechatError (exit 49), unless it already is one. */
export function queryError(err: unknown, what: string): KubechatError {
  if (err instanceof KubechatError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code && /^[0-9A-Z]{5}$/.test(e.code) ? ` [SQLSTATE ${e.code}]` : '';
  return dbError('dbQuery', `${what}: ${firstLine(e.message)}${code}`, 'check the database server log', err);
}
