/**
 * The CA's certificates in the site database, when one is given: every certificate the CA signed
 * (root, intermediate, leaves) in airgap_certificates, and the leaves kept on this host (with
 * the path of their key, never the key) in local_certificates. Rows are written in one
 * transaction around the CA directory's commit, so a failed command leaves neither a row nor a file.
 */
import type pg from 'pg';
import { openDatabase, type Database } from '../db/connection.js';
import { queryError } from '../db/connection.js';
import { dbError } from '../lib/errors.js';
import type { Reporter } from '../lib/progress.js';
import type { x509 } from './x509.js';

export type CertKind = 'root-ca' | 'intermediate-ca' | 'server' | 'client' | 'server-client';

/** One change to record; applied in order inside the transaction. */
export type CertChange =
  | { op: 'add'; name: string; kind: CertKind; cert: x509.X509Certificate; keyPath?: string }
  | { op: 'status'; name: string; cert: x509.X509Certificate; status: 'revoked' | 'superseded' };

const TABLES = ['airgap_certificates', 'local_certificates'];

export interface CertDatabase {
  /** Redacted URL. */
  url: string;
  /** Runs `commitFiles` inside a transaction holding `changes`; rolls both back on failure. */
  apply(changes: CertChange[], commitFiles: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** Opens the database named by `url` and checks the certificate tables exist (exit 45 when not migrated). */
export async function openCertDatabase(url: string, reporter?: Reporter): Promise<CertDatabase> {
  const db: Database = await openDatabase({ url, reporter });
  try {
    const missing = await db.pool.query<{ t: string }>(
      `SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL`,
      [TABLES],
    );
    if (missing.rowCount)
      throw dbError(
        'dbPending',
        `the database has no ${missing.rows.map((r) => r.t).join(', ')} table: it is not migrated`,
        'run kubechat db migrate first',
      );
  } catch (err) {
    await db.close();
    throw queryError(err, 'cannot read the database schema');
  }
  return {
    url: db.url,
    apply: (changes, commitFiles) => apply(db.pool, changes, commitFiles),
    close: () => db.close(),
  };
}

async function apply(pool: pg.Pool, changes: CertChange[], commitFiles: () => Promise<void>): Promise<void> {
  const client = await pool.connect().catch((err: unknown) => {
    throw queryError(err, 'cannot open a database session');
  });
  try {
    await client.query('BEGIN');
    try {
      for (const c of changes) await record(client, c);
    } catch (err) {
      throw queryError(err, 'cannot record the certificates');
    }
    await commitFiles();
    await client.query('COMMIT').catch((err: unknown) => {
      throw queryError(err, 'cannot commit the certificate records');
    });
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function record(client: pg.PoolClient, c: CertChange): Promise<void> {
  // The certificate only: PEM of the public certificate, never key material (the schema checks too).
  const pem = c.cert.toString('pem');
  if (c.op === 'status') {
    await client.query(`UPDATE airgap_certificates SET status = $3 WHERE cert_name = $1 AND pem_data = $2`, [
      c.name,
      pem,
      c.status,
    ]);
    await client.query(
      `UPDATE local_certificates SET status = $3 WHERE certificate_name = $1 AND pem_data = $2`,
      [c.name, pem, c.status],
    );
    return;
  }
  await client.query(
    `INSERT INTO airgap_certificates (cert_name, cert_type, pem_data, valid_from, valid_until, status)
     VALUES ($1, $2, $3, $4, $5, 'active')`,
    [c.name, c.kind, pem, c.cert.notBefore, c.cert.notAfter],
  );
  if (c.keyPath === undefined) return;
  await client.query(
    `INSERT INTO local_certificates
       (certificate_name, certificate_type, pem_data, private_key_path, issuer, subject, valid_from, valid_until, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active')`,
    [c.name, c.kind, pem, c.keyPath, c.cert.issuer, c.cert.subject, c.cert.notBefore, c.cert.notAfter],
  );
}

/**
 * Runs `work` with the database named by `url` open (and closes it), or with none when no URL is
 * given: the CA records into a database only when the operator names one.
 */
export async function withCertDatabase<T>(
  url: string | undefined,
  reporter: Reporter | undefined,
  work: (database: CertDatabase | undefined) => Promise<T>,
): Promise<{ result: T; database: string | null }> {
  if (!url) return { result: await work(undefined), database: null };
  const db = await openCertDatabase(url, reporter);
  try {
    return { result: await work(db), database: db.url };
  } finally {
    await db.close();
  }
}
