import { describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import {
  choosePlatforms,
  configPlatform,
  formatPlatform,
  matchScore,
  parsePlatform,
  satisfies,
} from '../../src/oci/platform.js';
import type { Descriptor } from '../../src/oci/types.js';

const p = parsePlatform;

describe('parsePlatform / formatPlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['Linux/X86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['windows/386', { os: 'windows', architecture: '386' }],
  ])('Given %s, When parsed, Then it is %o and formats back without aliases', (text, platform) => {
    expect(p(text)).toEqual(platform);
    expect(p(formatPlatform(p(text)))).toEqual(platform);
  });

  it.each(['linux', 'linux/amd64/v8/x', 'linux//v7', '/amd64', 'linux/am d64'])(
    'Given "%s", When parsed, Then a spec error says os/arch[/variant]',
    (text) => {
      expect(() => p(text)).toThrow(KubechatError);
      expect(() => p(text)).toThrow(/expected os\/arch/);
    },
  );
});

describe('satisfies', () => {
  it.each([
    ['linux/amd64', 'linux/amd64', true],
    ['linux/arm64', 'linux/arm64/v8', true], // arm64 means v8
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm', 'linux/arm/v7', true], // arm means v7
    ['linux/amd64/v1', 'linux/amd64', true], // amd64/v1 is plain amd64
    ['linux/arm/v6', 'linux/arm', true], // no variant wanted: any variant does
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm64', 'linux/amd64', false],
    ['windows/amd64', 'linux/amd64', false],
  ])('Given an image for %s, When %s is wanted, Then satisfies is %s', (candidate, wanted, result) => {
    expect(satisfies(p(candidate), p(wanted))).toBe(result);
  });

  it('Given no variant wanted, When scored, Then the default variant beats another one', () => {
    expect(matchScore(p('linux/arm'), p('linux/arm/v7'))).toBeGreaterThan(
      matchScore(p('linux/arm'), p('linux/arm/v6')),
    );
  });
});

describe('choosePlatforms', () => {
  const child = (platform: string, n: number): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).repeat(64)}`,
    size: 1,
    platform: p(platform),
  });
  const children = [child('linux/amd64', 1), child('linux/arm/v6', 2), child('linux/arm/v7', 3)];
  const missing = (_want: unknown, available: string[]) =>
    new Error(`missing; available ${available.join(',')}`);

  it('Given wanted platforms, When chosen, Then each gets its best child, in wanted order, without repeats', () => {
    expect(choosePlatforms(children, [p('linux/arm'), p('linux/amd64'), p('linux/arm/v7')], missing)).toEqual(
      [children[2], children[0]],
    );
  });

  it('Given a platform no child has, When chosen, Then `missing` names what is available', () => {
    expect(() => choosePlatforms(children, [p('linux/s390x')], missing)).toThrow(
      'missing; available linux/amd64,linux/arm/v6,linux/arm/v7',
    );
  });
});

describe('configPlatform', () => {
  it('Given an image config, When read, Then os/architecture/variant make its platform (empty variant = none)', () => {
    expect(configPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toEqual(p('linux/arm/v7'));
    expect(configPlatform({ os: 'linux', architecture: 'amd64', variant: '' })).toEqual(p('linux/amd64'));
    expect(configPlatform({ architecture: 'amd64' })).toBeUndefined();
  });
});
