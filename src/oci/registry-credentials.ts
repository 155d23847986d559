/**
 * Registry credentials, looked up the way Docker, Podman and skopeo do:
 *
 *   1. explicit credentials (`--registry-auth HOST=USER:PASS-from-env`), highest priority;
 *   2. `$REGISTRY_AUTH_FILE`, else `$XDG_RUNTIME_DIR/containers/auth.json`, else
 *      `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
 *
 * Auth files hold `{"auths": {"HOST": {"auth": base64("user:pass")}}}` (or `username`/`password`).
 * Keys may be bare hosts or URLs (`https://index.docker.io/v1/`). Credential helpers
 * (`credsStore`, `credHelpers`) are not run: they are programs outside our control.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { specError } from '../lib/errors.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The hosts that mean Docker Hub, in the spellings auth files use. */
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `https://index.docker.io/v1/` → `index.docker.io`; `host:5000` → `host:5000`. */
function hostOfKey(key: string): string {
  const noScheme = key.replace(/^[a-z]+:\/\//i, '');
  return noScheme.split('/')[0]!.toLowerCase();
}

function sameRegistry(a: string, b: string): boolean {
  return a === b || (DOCKER_HUB.has(a) && DOCKER_HUB.has(b));
}

/** The auth files to consult, in order. */
export function authFilePaths(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.REGISTRY_AUTH_FILE) return [env.REGISTRY_AUTH_FILE];
  const paths: string[] = [];
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  paths.push(join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'));
  return paths;
}

interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
}

function entryCredentials(entry: AuthEntry): Credentials | undefined {
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Reads credentials for `host` from the first auth file that has them. Unreadable files are skipped. */
export function credentialsFromAuthFiles(
  host: string,
  env: NodeJS.ProcessEnv = process.env,
): Credentials | undefined {
  const wanted = host.toLowerCase();
  for (const path of authFilePaths(env)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    const auths = (parsed as { auths?: Record<string, AuthEntry> } | null)?.auths;
    if (!auths || typeof auths !== 'object') continue;
    for (const [key, entry] of Object.entries(auths)) {
      if (!entry || typeof entry !== 'object' || !sameRegistry(hostOfKey(key), wanted)) continue;
      const creds = entryCredentials(entry);
      if (creds) return creds;
    }
  }
  return undefined;
}

/**
 * Parses `--registry-auth HOST=USER:PASS_ENV`: the password is read from the environment variable
 * named after the colon, so it never appears in the process list or shell history.
 */
export function parseRegistryAuthFlag(
  value: string,
  env: NodeJS.ProcessEnv = process.env,
): [host: string, creds: Credentials] {
  const m = /^([^=\s]+)=([^:\s]+):([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
  if (!m) {
    throw specError(
      `--registry-auth "${value.replace(/:.*/, ':…')}" is not HOST=USER:PASSWORD_ENV_VAR`,
      'write {flag:registry-auth} registry.example.com=robot:REGISTRY_PASSWORD and export REGISTRY_PASSWORD',
    );
  }
  const [, host, username, variable] = m as unknown as [string, string, string, string];
  const password = env[variable];
  if (password === undefined || password === '') {
    // The part after the colon is never echoed: when it is not a set variable, it may well be the
    // password itself, typed where the variable's name belongs.
    throw specError(
      `--registry-auth ${host}=${username}:…: no environment variable of the name after the colon is set (the third part must name an environment variable that holds the password, never be the password)`,
      `export REGISTRY_PASSWORD with ${username}'s password for ${host} and write --registry-auth ${host}=${username}:REGISTRY_PASSWORD`,
    );
  }
  return [host.toLowerCase(), { username, password }];
}
