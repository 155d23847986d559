/**
 * How to reach a registry: the flags `bundle create`, `install` and `validate` share, each with one
 * meaning. `--insecure-registry` names the hosts it allows (repeatable), everywhere.
 */
import { Flags } from '@oclif/core';
import { existsSync } from 'node:fs';

export const registryAccessFlags = {
  'registry-ca': Flags.string({
    summary: 'PEM file of CA certificates to trust for registries (the air-gap CA), besides the system’s.',
    helpValue: 'FILE',
  }),
  'registry-auth': Flags.string({
    summary: 'Registry credentials as HOST=USER:PASSWORD_ENV_VAR (the password is read from that variable).',
    multiple: true,
  }),
  'insecure-registry': Flags.string({
    summary:
      'Allow plain HTTP or an unverified certificate for this HOST[:PORT] (repeatable; loopback hosts need no flag).',
    helpValue: 'HOST',
    multiple: true,
    // One HOST per flag: a greedy list would swallow install's BUNDLE argument after it.
    multipleNonGreedy: true,
  }),
};

/**
 * `--insecure-registry` used to be a boolean on install and validate, meaning "the --registry host".
 * That form still works there: the bare flag is rewritten to this value before oclif parses the
 * command line, and `resolveBareInsecureRegistry` turns it into the --registry host once parsed.
 * A NUL cannot come from a real command line, so the marker cannot collide with a host a user typed.
 */
const BARE = '\u0000the --registry host';

const HOST =
  /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)(?::\d{1,5})?$/i;

/**
 * Rewrites the boolean form of --insecure-registry in `argv`: the flag with no value (last, or before
 * another flag, or before a token that is no host or is an existing file such as the bundle), and
 * `--insecure-registry=true`; `--insecure-registry=false` is dropped, as it meant "not insecure".
 */
export function rewriteBareInsecureRegistry(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--insecure-registry') {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('-') || !HOST.test(next) || existsSync(next)) {
        out.push(`--insecure-registry=${BARE}`);
      } else {
        out.push(a, next);
        i++;
      }
    } else if (a === '--insecure-registry=true' || a === '--insecure-registry=') {
      out.push(`--insecure-registry=${BARE}`);
    } else if (a !== '--insecure-registry=false') {
      out.push(a);
    }
  }
  return out;
}

/**
 * Replaces the boolean form's marker with the --registry host, warning once that the form is
 * deprecated. Returns the hosts to allow.
 */
export function resolveBareInsecureRegistry(
  hosts: string[] | undefined,
  registry: string | undefined,
  warn: (message: string) => void,
): string[] | undefined {
  if (!hosts?.includes(BARE)) return hosts;
  const host = registry && !registry.startsWith('oci:') ? registry : undefined;
  warn(
    `--insecure-registry without a HOST is deprecated: use --insecure-registry HOST${host ? ` (here: ${host})` : ''}`,
  );
  const named = hosts.filter((h) => h !== BARE);
  return host && !named.includes(host) ? [...named, host] : named;
}
