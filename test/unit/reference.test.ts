import { describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import {
  formatReference,
  normalizeReference,
  parseReference,
  tryNormalizeReference,
} from '../../src/oci/reference.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('normalizeReference', () => {
  it.each([
    ['demo/hello:1.0', 'docker.io/demo/hello:1.0'],
    ['hello', 'docker.io/library/hello:latest'],
    ['hello:1.27-alpine', 'docker.io/library/hello:1.27-alpine'],
    ['docker.io/hello', 'docker.io/library/hello:latest'],
    ['index.docker.io/demo/hello:2', 'docker.io/demo/hello:2'],
    ['localhost/x', 'localhost/x:latest'],
    ['localhost:5000/x', 'localhost:5000/x:latest'],
    ['registry.example.com/a/b/c:v1', 'registry.example.com/a/b/c:v1'],
    ['127.0.0.1:5000/team/app:1', '127.0.0.1:5000/team/app:1'],
    ['[::1]:5000/app:1', '[::1]:5000/app:1'],
    [`host.io/a/b@${DIGEST}`, `host.io/a/b@${DIGEST}`],
    [`host.io/a/b:1.0@${DIGEST}`, `host.io/a/b:1.0@${DIGEST}`],
    ['ghcr.io/org/my__app.x-y:TAG_1', 'ghcr.io/org/my__app.x-y:TAG_1'],
    // Docker's rule: an uppercase first component is a registry host, not a namespace.
    ['Docker/hello', 'Docker/hello:latest'],
  ])('Given %s, When normalised, Then it is %s', (input, expected) => {
    expect(normalizeReference(input)).toBe(expected);
  });
});

describe('parseReference', () => {
  it('Given a ref with tag and digest, When parsed, Then every part is kept and no tag is invented', () => {
    expect(parseReference(`localhost:5000/a/b:1.0@${DIGEST}`)).toEqual({
      registry: 'localhost:5000',
      repository: 'a/b',
      tag: '1.0',
      digest: DIGEST,
    });
    expect(parseReference('nginx')).toEqual({ registry: 'docker.io', repository: 'library/nginx' });
  });

  it('Given parts, When formatted and parsed again, Then they round-trip', () => {
    const ref = { registry: 'r.io:443', repository: 'x/y', tag: 't', digest: DIGEST };
    expect(parseReference(formatReference(ref))).toEqual(ref);
  });

  it.each([
    ['', 'empty'],
    ['demo/Hello:1.0', 'must be lowercase'],
    ['HELLO', 'must be lowercase'],
    ['demo/hello:', 'tag ""'],
    ['demo/hello:-bad', 'tag "-bad"'],
    [`demo/hello:${'t'.repeat(129)}`, 'tag'],
    ['demo/hello@sha256:abc', 'must be 64 lowercase hex'],
    [`demo/hello@sha256:${'AB'.repeat(32)}`, 'must be 64 lowercase hex'],
    [`demo/hello@md5:${'a'.repeat(32)}`, 'not supported'],
    ['demo/hello@', 'digest'],
    ['a'.repeat(64), 'image ID'],
    ['demo//hello', 'repository name'],
    ['demo/hello-', 'repository name'],
    ['demo/_hello', 'repository name'],
    ['my_host:5000/app', 'registry host'],
    [`registry.io/${'a'.repeat(250)}`, 'at most 255'],
  ])('Given the bad reference %j, When parsed, Then a spec error says %s', (input, message) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(KubechatError);
    const err = caught as KubechatError;
    expect(err.kind).toBe('spec');
    expect(err.message).toContain(`"${input}"`);
    expect(err.message).toContain(message);
    expect(err.fix).toBeTruthy();
  });

  it('Given a name exactly at the 255 character limit, When parsed, Then it is accepted', () => {
    const repository = 'a'.repeat(255 - 'registry.io/'.length);
    expect(parseReference(`registry.io/${repository}:1`).repository).toBe(repository);
  });
});

describe('tryNormalizeReference', () => {
  it('Given junk, When normalised leniently, Then undefined comes back instead of an error', () => {
    expect(tryNormalizeReference('{{ .Values.image }}')).toBeUndefined();
    expect(tryNormalizeReference('redis:7')).toBe('docker.io/library/redis:7');
  });
});
