/** Name constraints as `ca issue` checks them before signing (RFC 5280 4.2.1.10 semantics). */
import { describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import { checkNames, ipBytes, ipText, parseCidr, parseConstraints } from '../../src/pki/names.js';

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as KubechatError;
  }
  throw new Error('expected a refusal');
};

describe('IP addresses and ranges', () => {
  it('parses IPv4, IPv6 and mapped addresses to bytes and back', () => {
    expect(ipBytes('10.2.3.4')!.toString('hex')).toBe('0a020304');
    expect(ipBytes('::1')!.toString('hex')).toBe('0'.repeat(31) + '1');
    expect(ipBytes('::ffff:10.1.2.3')!.toString('hex')).toBe('00000000000000000000ffff0a010203');
    expect(ipText(ipBytes('2001:db8:0:0:8:800:200c:417a')!)).toBe('2001:db8::8:800:200c:417a');
    expect(ipBytes('not-an-ip')).toBeUndefined();
  });

  it('normalises CIDRs and clears host bits', () => {
    expect(parseCidr('10.1.2.3/8').cidr).toBe('10.0.0.0/8');
    expect(parseCidr('fd12::1/8').cidr).toBe('fd00::/8');
    expect(parseCidr('127.0.0.1').cidr).toBe('127.0.0.1/32');
    expect(refusal(() => parseCidr('10.0.0.0/33')).exitCode).toBe(63);
    expect(refusal(() => parseCidr('example.com/8')).exitCode).toBe(63);
  });
});

describe('checkNames', () => {
  const c = parseConstraints(['cluster.local', '.Airgap.Example'], ['10.0.0.0/8', '::1']);

  it('permits names under the domains (and the domain itself) and addresses in the ranges', () => {
    expect(
      checkNames(
        ['Registry.Cluster.Local', 'cluster.local', '*.apps.airgap.example'],
        ['10.9.9.9', '::1'],
        c,
      ),
    ).toEqual({
      dns: ['registry.cluster.local', 'cluster.local', '*.apps.airgap.example'],
      ips: ['10.9.9.9', '::1'],
    });
  });

  it('refuses every name outside the constraints at once, with exit 63', () => {
    const err = refusal(() =>
      checkNames(['ok.cluster.local', 'evil.com', 'notcluster.local'], ['11.0.0.1'], c),
    );
    expect(err.exitCode).toBe(63);
    expect(err.message).toContain('evil.com, notcluster.local, 11.0.0.1 are outside');
    expect(err.message).not.toContain('ok.cluster.local,');
  });

  it('refuses malformed names and an empty name list', () => {
    expect(refusal(() => checkNames(['bad_name.cluster.local'], [], c)).message).toContain(
      'not a valid DNS name',
    );
    expect(refusal(() => checkNames(['a.*.cluster.local'], [], c)).exitCode).toBe(63);
    expect(refusal(() => checkNames([], ['300.1.1.1'], c)).message).toContain('not an IP address');
    expect(refusal(() => checkNames([], [], c)).message).toContain('at least one name');
  });
});
