/**
 * Basic authentication for `registry serve --htpasswd FILE`, with the file format docker-registry's
 * htpasswd auth reads: `user:bcrypt-hash` lines (`htpasswd -B`), `#` comments and blank lines
 * ignored. Only bcrypt is accepted: the other htpasswd hashes (MD5-crypt, SHA-1, crypt, plain) are
 * weak, and docker-registry refuses them too.
 *
 * bcrypt is slow on purpose (tens of ms per check), and clients send the same Authorization header
 * on every request of a pull: a header that verified once is remembered (by its sha256, never the
 * password) for the life of the server, so only the first request of a client pays for bcrypt.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { serveAuthError } from '../lib/errors.js';

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export interface BasicAuthenticator {
  users: number;
  /** The user name when the Authorization header carries a valid user and password, else undefined. */
  check(authorization: string | undefined): Promise<string | undefined>;
}

export async function loadHtpasswd(path: string): Promise<BasicAuthenticator> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw serveAuthError(
      `${path}: cannot read the htpasswd file (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      'check {flag:htpasswd} and that this user can read it',
      err,
    );
  }
  const users = new Map<string, string>();
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !BCRYPT.test(hash)) {
      // Never quote the line: it holds a password hash.
      throw serveAuthError(
        `${path}:${i + 1}: not a "user:bcrypt-hash" line${colon > 0 ? ` (user ${user})` : ''}`,
        'create entries with htpasswd -B (bcrypt), as docker-registry requires',
      );
    }
    users.set(user, hash);
  }
  if (users.size === 0) {
    throw serveAuthError(`${path}: holds no users`, 'add one with htpasswd -B FILE USER');
  }
  const { default: bcrypt } = await import('bcryptjs');
  // Compared against when the user is unknown, at the cost of the file's first hash.
  const rounds = Number(/^\$2[aby]\$(\d{2})/.exec([...users.values()][0]!)![1]);
  const dummy = await bcrypt.hash(randomBytes(16).toString('hex'), rounds);
  const verified = new Map<string, string>(); // sha256(header) -> user
  return {
    users: users.size,
    async check(authorization) {
      if (!authorization?.startsWith('Basic ')) return undefined;
      const key = createHash('sha256').update(authorization).digest('hex');
      const known = verified.get(key);
      if (known !== undefined) return known;
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return undefined;
      const user = decoded.slice(0, colon);
      const hash = users.get(user);
      // An unknown user costs a bcrypt check too, so timing does not tell which users exist.
      const ok = await bcrypt.compare(decoded.slice(colon + 1), hash ?? dummy);
      if (!ok || hash === undefined) return undefined;
      verified.set(key, user);
      return user;
    },
  };
}
