/**
 * The admin password: generation (crypto.randomInt, every character class present), the policy
 * from airgap_security_config (password_min_length, password_require_classes; the seed defaults
 * when a row is absent), and argon2id hashing. Passwords never enter an error message.
 */
import { randomInt } from 'node:crypto';
import { Algorithm, hash, verify } from '@node-rs/argon2';
import type pg from 'pg';
import { SECURITY_CONFIG } from '../db/seed.js';

export const GENERATED_LENGTH = 20;

const CLASSES = {
  upper: 'ABCDEFGHJKLMNPQRSTUVWXYZ',
  lower: 'abcdefghijkmnopqrstuvwxyz',
  digit: '23456789',
  // No quote, backslash, space or shell-expansion characters: the password is pasted into forms and YAML.
  symbol: '!#%+,-./:=?@^_~',
} as const;
type CharClass = keyof typeof CLASSES;

export interface PasswordPolicy {
  minLength: number;
  /** How many of the 4 classes (upper, lower, digit, symbol) a password must use. */
  requireClasses: number;
  maxAgeDays: number;
  /** Where the values came from. */
  source: 'database' | 'defaults';
}

const defaultOf = (key: string) => Number(SECURITY_CONFIG.find((c) => c.key === key)!.value);

export const DEFAULT_POLICY: PasswordPolicy = {
  minLength: defaultOf('password_min_length'),
  requireClasses: defaultOf('password_require_classes'),
  maxAgeDays: defaultOf('password_max_age_days'),
  source: 'defaults',
};

/** The policy in airgap_security_config, each missing or unusable value replaced by its default. */
export async function loadPolicy(db: pg.Pool | pg.PoolClient): Promise<PasswordPolicy> {
  const rows = await db.query<{ config_key: string; config_value: string | null }>(
    `SELECT config_key, config_value FROM airgap_security_config WHERE config_key = ANY($1)`,
    [['password_min_length', 'password_require_classes', 'password_max_age_days']],
  );
  const value = (key: string, fallback: number, min: number, max: number) => {
    const n = Number(rows.rows.find((r) => r.config_key === key)?.config_value ?? NaN);
    return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
  };
  return {
    minLength: value('password_min_length', DEFAULT_POLICY.minLength, 8, 128),
    requireClasses: value('password_require_classes', DEFAULT_POLICY.requireClasses, 1, 4),
    maxAgeDays: value('password_max_age_days', DEFAULT_POLICY.maxAgeDays, 1, 3650),
    source: rows.rowCount ? 'database' : 'defaults',
  };
}

function classesOf(password: string): Set<CharClass> {
  const found = new Set<CharClass>();
  for (const ch of password) {
    if (/\p{Lu}/u.test(ch)) found.add('upper');
    else if (/\p{Ll}/u.test(ch)) found.add('lower');
    else if (/\p{Nd}/u.test(ch)) found.add('digit');
    else if (!/\s/u.test(ch)) found.add('symbol');
  }
  return found;
}

/** Every rule `password` breaks, in words (never quoting the password). Empty when it passes. */
export function policyProblems(password: string, policy: PasswordPolicy): string[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < policy.minLength) problems.push(`shorter than ${policy.minLength} characters (${length})`);
  if (length > 256) problems.push('longer than 256 characters');
  const classes = classesOf(password);
  if (classes.size < policy.requireClasses) {
    const missing = (['upper', 'lower', 'digit', 'symbol'] as const).filter((c) => !classes.has(c));
    problems.push(
      `uses ${classes.size} of the ${policy.requireClasses} character classes required (missing: ${missing.join(', ')})`,
    );
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) problems.push('contains control characters');
  return problems;
}

/**
 * A random password of `length` (at least the policy's minimum): one character of each of the 4
 * classes, the rest from all of them, shuffled; every draw is crypto.randomInt.
 */
export function generatePassword(policy: PasswordPolicy, length = GENERATED_LENGTH): string {
  const n = Math.max(length, policy.minLength, 4);
  const all = Object.values(CLASSES).join('');
  const chars = Object.values(CLASSES).map((set) => set[randomInt(set.length)]!);
  while (chars.length < n) chars.push(all[randomInt(all.length)]!);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j]!, chars[i]!];
  }
  return chars.join('');
}

/** RFC 9106's second recommended option (64 MiB, t=3), one lane: about 0.1 s here. */
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 65_536, timeCost: 3, parallelism: 1 } as const;

/** A PHC string: $argon2id$v=19$m=65536,t=3,p=1$salt$hash. */
export function hashPassword(password: string): Promise<string> {
  return hash(password.normalize('NFC'), ARGON2);
}

export function verifyPassword(phc: string, password: string): Promise<boolean> {
  return verify(phc, password.normalize('NFC')).catch(() => false);
}
