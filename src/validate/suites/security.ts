/**
 * `security`: private keys and password files readable by their owner only, certificates and CA
 * files not writable by others; no default or empty password in the recorded configuration (the
 * database URL, airgap_security_config, deployments' configuration, users); TLS on every registry,
 * Ollama and database endpoint that is not on loopback. Secrets are never shown: findings name the
 * file, table, row or key, never the value.
 */
import { lstat, readFile, stat } from 'node:fs/promises';
import { embeddedPaths } from '../../db/embedded.js';
import { kubechatHome } from '../../lib/home.js';
import { isLoopbackHost } from '../../oci/registry-client.js';
import type { Suite, ValidationContext } from '../context.js';
import { fail, pass, skip, warn, type Check, type Outcome } from '../types.js';

/** Passwords shipped as defaults by common images and tutorials; never acceptable on a site. */
export const DEFAULT_PASSWORDS = new Set([
  'admin',
  'administrator',
  'changeme',
  'change-me',
  'default',
  'kubechat',
  'letmein',
  'ollama',
  'pass',
  'password',
  'password1',
  'postgres',
  'root',
  'secret',
  'test',
  'toor',
  '123456',
  '12345678',
]);

const SECRET_KEY = /pass(word|phrase)?$|passwd|secret|token|api.?key|private.?key|credential/i;
/** Keys that describe a password policy, not a password. */
const POLICY_KEY = /_(min|max)_|_length$|_classes$|_history$|_age_days$|_attempts$|_minutes$|_hours$/i;

const mode = (m: number) => (m & 0o777).toString(8).padStart(4, '0');

async function fileMode(path: string): Promise<Outcome> {
  const l = await lstat(path).catch(() => undefined);
  if (!l)
    return fail(`${path} does not exist`, 'pass the path of an existing key, certificate or password file');
  const s = l.isSymbolicLink() ? await stat(path) : l;
  const head = (await readFile(path).catch(() => Buffer.alloc(0))).subarray(0, 64 * 1024).toString('latin1');
  // Public only when it holds certificates or public keys and nothing private: anything else
  // (private keys, password files, unknown formats) is treated as a secret.
  const isSecret = /PRIVATE KEY|kubechat-private-key/.test(head) || !/CERTIFICATE|PUBLIC KEY/.test(head);
  const data = { mode: mode(s.mode), kind: isSecret ? 'secret' : 'public' };
  if (isSecret) {
    if (s.mode & 0o004)
      return fail(`${path} (a secret) is readable by every user (mode ${data.mode})`, `chmod 600 ${path}`, {
        data,
      });
    if (s.mode & 0o022)
      return fail(`${path} (a secret) is writable by other users (mode ${data.mode})`, `chmod 600 ${path}`, {
        data,
      });
    if (s.mode & 0o040)
      return warn(`${path} (a secret) is readable by its group (mode ${data.mode})`, `chmod 600 ${path}`, {
        data,
      });
    return pass(`${path}: secret, owner only (mode ${data.mode})`, { data });
  }
  if (s.mode & 0o022)
    return fail(
      `${path} (a certificate or public key) is writable by other users (mode ${data.mode}): anyone could swap it`,
      `chmod go-w ${path}`,
      { data },
    );
  return pass(`${path}: certificate or public key, not writable by others (mode ${data.mode})`, { data });
}

/** Files to check: --secret-file, --registry-ca and the embedded database's password file. */
async function filesToCheck(ctx: ValidationContext): Promise<string[]> {
  const files = [...(ctx.inputs.secretFiles ?? [])];
  if (ctx.inputs.registryCa) files.push(ctx.inputs.registryCa);
  if (ctx.inputs.database?.embedded) {
    const p = embeddedPaths(kubechatHome()).password;
    if (
      await stat(p).then(
        () => true,
        () => false,
      )
    )
      files.push(p);
  }
  return [...new Set(files)];
}

/** Paths of secret-looking keys whose value is not redacted, inside a JSON value. */
export function clearSecrets(value: unknown, at = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => clearSecrets(v, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const path = at ? `${at}.${k}` : k;
    if (SECRET_KEY.test(k) && !POLICY_KEY.test(k) && typeof v === 'string' && v !== '***' && v !== '')
      out.push(path);
    else if (typeof v === 'string' && /:\/\/[^\s/:@]*:(?!\*\*\*@)[^\s/@]+@/.test(v))
      out.push(`${path} (a URL with a password)`);
    else out.push(...clearSecrets(v, path));
  }
  return out;
}

async function passwords(ctx: ValidationContext): Promise<Outcome> {
  const problems: string[] = [];
  const url = ctx.inputs.database?.url;
  if (url && !ctx.inputs.database?.embedded) {
    try {
      const u = new URL(url);
      const pw = decodeURIComponent(u.password);
      if (pw === '' && !isLoopbackHost(u.hostname))
        problems.push(`the database URL has no password for ${u.hostname}`);
      else if (pw !== '' && DEFAULT_PASSWORDS.has(pw.toLowerCase()))
        problems.push(
          `the database URL uses a default password (user ${decodeURIComponent(u.username) || '?'})`,
        );
    } catch {
      // not a URL: the database suite reports it
    }
  }
  const db = await ctx.database();
  const q = async <T extends object>(sql: string): Promise<T[]> => {
    try {
      return (await db.pool.query<T>(sql)).rows;
    } catch (err) {
      if ((err as { code?: string }).code === '42P01') return []; // table missing: the database suite says so
      throw err;
    }
  };
  for (const r of await q<{ config_key: string; config_value: string | null }>(
    'SELECT config_key, config_value FROM airgap_security_config',
  )) {
    if (!SECRET_KEY.test(r.config_key) || POLICY_KEY.test(r.config_key)) continue;
    const v = (r.config_value ?? '').trim();
    if (v === '') problems.push(`airgap_security_config ${r.config_key} is empty`);
    else if (DEFAULT_PASSWORDS.has(v.toLowerCase()))
      problems.push(`airgap_security_config ${r.config_key} is a default password`);
  }
  for (const r of await q<{ id: string; deployment_name: string; configuration: unknown }>(
    'SELECT id, deployment_name, configuration FROM airgap_deployments',
  )) {
    for (const p of clearSecrets(r.configuration))
      problems.push(
        `airgap_deployments ${r.deployment_name} (${r.id}) configuration.${p} holds a secret in clear`,
      );
  }
  for (const r of await q<{ username: string; password_hash: string }>(
    'SELECT username, password_hash FROM users',
  )) {
    const h = r.password_hash.trim();
    if (h === '') problems.push(`user ${r.username} has an empty password`);
    else if (DEFAULT_PASSWORDS.has(h.toLowerCase()) || h.toLowerCase() === r.username.toLowerCase())
      problems.push(`user ${r.username} has a default password stored in clear`);
  }
  if (problems.length)
    return fail(
      `${problems.length} default, empty or clear-text secret(s): ${problems[0]}`,
      'set strong passwords and keep secrets out of the configuration',
      {
        details: problems,
      },
    );
  return pass('no default, empty or clear-text password in the recorded configuration');
}

function tlsChecks(ctx: ValidationContext): Check[] {
  const { registry, insecureRegistry, ollamaUrls, database } = ctx.inputs;
  const checks: Check[] = [];
  if (registry && !registry.startsWith('oci:'))
    checks.push({
      name: `tls registry ${registry}`,
      run: async () => {
        if (isLoopbackHost(registry)) return skip(`${registry} is on loopback`);
        if (insecureRegistry?.some((h) => h.toLowerCase() === registry.toLowerCase()))
          return fail(
            `${registry}: --insecure-registry accepts plain HTTP or an unverified certificate`,
            'serve it with a certificate from the local CA and pass {flag:registry-ca}',
          );
        const origin = await (await ctx.registryClient()).origin(registry);
        return origin.startsWith('https://')
          ? pass(`${registry} is served over HTTPS`)
          : fail(`${registry} is served over plain HTTP`, 'serve the registry with TLS');
      },
    });
  for (const u of ollamaUrls ?? [])
    checks.push({
      name: `tls ollama ${u}`,
      run: () => {
        const url = new URL(u);
        if (isLoopbackHost(url.host)) return Promise.resolve(skip(`${u} is on loopback`));
        return Promise.resolve(
          url.protocol === 'https:'
            ? pass(`${u} uses HTTPS`)
            : fail(
                `${u} is plain HTTP on the network: prompts and models travel in clear`,
                'put Ollama behind a TLS proxy (a certificate from the local CA) and use https://',
              ),
        );
      },
    });
  if (database?.url && !database.embedded)
    checks.push({
      name: 'tls database',
      run: () => {
        let u: URL;
        try {
          u = new URL(database.url!);
        } catch {
          return Promise.resolve(skip('the database URL is not a URL'));
        }
        if (isLoopbackHost(u.hostname) || u.hostname === '')
          return Promise.resolve(skip(`the database is on loopback`));
        const ssl =
          u.searchParams.get('sslmode') ?? (u.searchParams.get('ssl') === 'true' ? 'require' : 'prefer');
        if (ssl === 'verify-full' || ssl === 'verify-ca') return Promise.resolve(pass(`sslmode=${ssl}`));
        if (ssl === 'require')
          return Promise.resolve(
            warn(
              `sslmode=require encrypts but does not verify the server`,
              'use sslmode=verify-full with the local CA (sslrootcert=…)',
            ),
          );
        return Promise.resolve(
          fail(
            `the database at ${u.hostname} is reached without TLS (sslmode=${ssl})`,
            'add ?sslmode=verify-full&sslrootcert=CA.pem to {flag:database-url}',
          ),
        );
      },
    });
  return checks;
}

export const securitySuite: Suite = {
  name: 'security',
  missing: () => undefined,
  async checks(ctx) {
    const files = await filesToCheck(ctx);
    const checks: Check[] = files.map((f) => ({ name: `file ${f}`, run: () => fileMode(f) }));
    if (!files.length)
      checks.push({
        name: 'files',
        run: () => Promise.resolve(skip('no key, certificate or password file given (--secret-file)')),
      });
    if (ctx.inputs.database) checks.push({ name: 'passwords', run: () => passwords(ctx) });
    const tls = tlsChecks(ctx);
    checks.push(...tls);
    if (!tls.length)
      checks.push({
        name: 'tls',
        run: () => Promise.resolve(skip('no registry, Ollama or database endpoint given')),
      });
    return checks;
  },
};
