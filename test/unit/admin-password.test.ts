/** Generated admin passwords and the policy check (no database: the policy is a value here). */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_POLICY,
  generatePassword,
  hashPassword,
  policyProblems,
  verifyPassword,
} from '../../src/admin/password.js';

describe('generatePassword', () => {
  it('Then 500 passwords are 20 characters, use all 4 classes, meet the default policy and do not repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const p = generatePassword(DEFAULT_POLICY);
      expect(p).toHaveLength(20);
      expect(p).toMatch(/[A-Z]/);
      expect(p).toMatch(/[a-z]/);
      expect(p).toMatch(/[0-9]/);
      expect(p).toMatch(/[^A-Za-z0-9]/);
      expect(p).not.toMatch(/[\s'"`\\$]/);
      expect(policyProblems(p, DEFAULT_POLICY)).toEqual([]);
      seen.add(p);
    }
    expect(seen.size).toBe(500);
  });

  it('Given a policy asking for more than 20 characters, Then the password is that long', () => {
    const p = generatePassword({ ...DEFAULT_POLICY, minLength: 32, requireClasses: 4 });
    expect(p).toHaveLength(32);
  });
});

describe('policyProblems', () => {
  const policy = { ...DEFAULT_POLICY, minLength: 14, requireClasses: 3 };

  it('Then each broken rule is named, and the password itself never', () => {
    const weak = 'password';
    const problems = policyProblems(weak, policy);
    expect(problems).toEqual([
      'shorter than 14 characters (8)',
      'uses 1 of the 3 character classes required (missing: upper, digit, symbol)',
    ]);
    expect(problems.join()).not.toContain(weak);
    expect(policyProblems('Correct-Horse-Battery', policy)).toEqual([]);
    expect(policyProblems('Zwölf Äpfel und 3 Birnen', policy)).toEqual([]);
  });
});

describe('argon2id', () => {
  it('Then the hash is a PHC argon2id string that verifies the password and nothing else', async () => {
    const phc = await hashPassword('Correct-Horse-Battery-9');
    expect(phc).toMatch(/^\$argon2id\$v=19\$m=65536,t=3,p=1\$/);
    expect(phc).not.toContain('Correct-Horse');
    expect(await verifyPassword(phc, 'Correct-Horse-Battery-9')).toBe(true);
    expect(await verifyPassword(phc, 'Correct-Horse-Battery-8')).toBe(false);
    expect(await verifyPassword('not a hash', 'x')).toBe(false);
  });
});
