/**
 * Helm's own list of chart repositories (`helm repo add NAME URL [--username U --password P]`), read
 * the way Helm reads it: `$HELM_REPOSITORY_CONFIG`, else `$XDG_CONFIG_HOME/helm/repositories.yaml`,
 * else `~/.config/helm/repositories.yaml`. It gives two things a connected host already has set up:
 *
 *   - the URL behind a repository alias in Chart.yaml dependencies (`repository: "@bitnami"` or
 *     `"alias:bitnami"`), which `helm dependency build` resolves from this file;
 *   - credentials and a private CA for a repository, sent only to URLs under that repository's URL
 *     (Helm's rule; `pass_credentials_all: true` widens it to any URL on the same host).
 *
 * `insecure_skip_tls_verify` is not honoured: an unverified TLS connection needs `--insecure-registry`
 * on kubechat's own command line. The file is read only when a chart repository is used.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { load } from 'js-yaml';
import type { Credentials } from '../oci/registry-credentials.js';
import { chartDependencyError } from '../lib/errors.js';

export interface HelmRepository {
  name: string;
  url: string;
  credentials?: Credentials;
  /** PEM of the repository's `caFile`, when it names one that can be read. */
  ca?: string;
  passCredentialsAll: boolean;
}

/** Where Helm keeps repositories.yaml. */
export function helmRepositoryConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HELM_REPOSITORY_CONFIG) return env.HELM_REPOSITORY_CONFIG;
  const config = env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(config, 'helm', 'repositories.yaml');
}

interface RawEntry {
  name?: unknown;
  url?: unknown;
  username?: unknown;
  password?: unknown;
  caFile?: unknown;
  pass_credentials_all?: unknown;
}

/**
 * The repositories in Helm's file; none when the file does not exist. A file that exists but cannot
 * be parsed is an error naming it (a silently ignored file would send an alias nowhere).
 */
export function loadHelmRepositories(env: NodeJS.ProcessEnv = process.env): HelmRepository[] {
  const path = helmRepositoryConfigPath(env);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  let doc: unknown;
  try {
    doc = load(text);
  } catch (err) {
    throw chartDependencyError(
      `${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`,
      'fix the file, or point HELM_REPOSITORY_CONFIG at a good one',
      err,
    );
  }
  const list = (doc as { repositories?: unknown } | null)?.repositories;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) {
    throw chartDependencyError(
      `${path}: "repositories" is not a list`,
      'fix the file (helm repo add rewrites it), or point HELM_REPOSITORY_CONFIG at a good one',
    );
  }
  const out: HelmRepository[] = [];
  for (const raw of list as RawEntry[]) {
    if (!raw || typeof raw.name !== 'string' || typeof raw.url !== 'string') continue;
    const repo: HelmRepository = {
      name: raw.name,
      url: raw.url.replace(/\/+$/, ''),
      passCredentialsAll: raw.pass_credentials_all === true,
    };
    if (typeof raw.username === 'string' && typeof raw.password === 'string' && raw.username !== '') {
      repo.credentials = { username: raw.username, password: raw.password };
    }
    if (typeof raw.caFile === 'string' && raw.caFile !== '') {
      try {
        repo.ca = readFileSync(raw.caFile, 'utf8');
      } catch {
        // An unreadable CA file: the repository's TLS check fails later and names the fix.
      }
    }
    out.push(repo);
  }
  return out;
}

/** `@name` or `alias:name` → name; undefined for anything else (a URL, file://, oci://). */
export function aliasName(repository: string): string | undefined {
  if (repository.startsWith('@')) return repository.slice(1) || undefined;
  if (repository.startsWith('alias:')) return repository.slice('alias:'.length) || undefined;
  return undefined;
}

/** The repository whose credentials apply to `url`, by Helm's rule (see the header). */
export function repositoryForUrl(repos: HelmRepository[], url: string): HelmRepository | undefined {
  const target = new URL(url);
  let best: HelmRepository | undefined;
  for (const r of repos) {
    let base: URL;
    try {
      base = new URL(r.url);
    } catch {
      continue;
    }
    if (base.origin !== target.origin) continue;
    const under =
      target.pathname.startsWith(base.pathname.replace(/\/?$/, '/')) || target.pathname === base.pathname;
    if (!under && !r.passCredentialsAll) continue;
    if (!best || r.url.length > best.url.length) best = r;
  }
  return best;
}
