/**
 * Which flag does what a low layer's fix asks for. A fix names an option as `{flag:NAME}` (lib/fix.ts);
 * here each NAME lists the flags that do it, in order of preference: a command's fix names the first
 * of them that the command has. A test holds this table to the code: every NAME a fix uses is here,
 * and every flag here exists on some command, so help and fixes cannot drift apart.
 */
import { renderFix } from '../lib/fix.js';

export const FIX_FLAGS = {
  // Registries and trust.
  registry: ['registry'],
  'registry-ca': ['registry-ca'],
  'registry-auth': ['registry-auth'],
  'insecure-registry': ['insecure-registry'],
  'trusted-key': ['trusted-key'],
  'allow-unsigned': ['allow-unsigned'],
  'allow-expired': ['allow-expired'],
  'allow-downgrade': ['allow-downgrade'],
  // Databases.
  'database-url': ['database-url'],
  'lock-timeout': ['lock-timeout'],
  // The local CA: its directory is --dir on the ca commands, --ca-dir on install --issue-certs.
  'ca-dir': ['dir', 'ca-dir'],
  name: ['name'],
  domains: ['domains'],
  ips: ['ips'],
  dns: ['dns'],
  ip: ['ip'],
  days: ['days'],
  client: ['client'],
  'root-key': ['root-key'],
  // Ollama nodes and models.
  ollama: ['ollama'],
  'ollama-store': ['ollama-store'],
  model: ['model'],
  'gpu-memory': ['gpu-memory'],
  to: ['to'],
  // Bundles, keys and files.
  file: ['file'],
  base: ['base'],
  expires: ['expires'],
  replace: ['replace'],
  force: ['force'],
  'password-file': ['password-file'],
  'password-stdin': ['password-stdin'],
  // registry serve.
  addr: ['addr'],
  'tls-cert': ['tls-cert'],
  'tls-key': ['tls-key'],
  htpasswd: ['htpasswd'],
} as const satisfies Record<string, readonly [string, ...string[]]>;

/** A fix template written for a command with these flags. */
export function fixForCommand(template: string, commandFlags: Iterable<string>): string {
  const has = new Set(commandFlags);
  return renderFix(template, (name) => {
    const flags: readonly string[] | undefined = (FIX_FLAGS as Record<string, readonly string[]>)[name];
    return `--${flags?.find((f) => has.has(f)) ?? flags?.[0] ?? name}`;
  });
}
