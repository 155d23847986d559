import { describe, expect, it } from 'vitest';
import { repositoryFromDirName, repositoryNameOf } from '../../src/oci/repository-names.js';
import { parseRange } from '../../src/serve/registry-handler.js';

describe('repositoryNameOf: where a bundle root is served', () => {
  it.each([
    ['docker.io/demo/app:1.0', 'image', 'demo/app', '1.0', 'docker.io/demo/app'],
    ['docker.io/library/nginx:1.27', 'image', 'library/nginx', '1.27', 'docker.io/library/nginx'],
    ['ghcr.io/org/tool:2', 'image', 'org/tool', '2', 'ghcr.io/org/tool'],
    ['localhost:5000/x/y:3', 'image', 'x/y', '3', undefined],
    ['charts/kubechat:0.1.0_build.1', 'chart', 'charts/kubechat', '0.1.0_build.1', undefined],
    [
      'registry.ollama.ai/library/assist:1.0',
      'model',
      'library/assist',
      '1.0',
      'registry.ollama.ai/library/assist',
    ],
  ])('Given %s (%s), Then it is served as %s:%s (qualified %s)', (ref, kind, repository, tag, qualified) => {
    expect(repositoryNameOf(ref, { kind })).toEqual({ repository, tag, qualified });
  });

  it('Given a bare tag, Then it is served under the fallback repository only when there is one', () => {
    expect(repositoryNameOf('1.0', { fallbackRepository: 'images' })).toEqual({
      repository: 'images',
      tag: '1.0',
      qualified: undefined,
    });
    expect(repositoryNameOf('1.0')).toBeUndefined();
  });

  it('Given a digest-only or malformed ref, Then it has no name', () => {
    expect(repositoryNameOf(`docker.io/a/b@sha256:${'a'.repeat(64)}`)).toBeUndefined();
    expect(repositoryNameOf('Not/Valid:1')).toBeUndefined();
  });

  it('Given directory names, Then they become valid repository names or nothing', () => {
    expect(repositoryFromDirName('My_Images')).toBe('my_images');
    expect(repositoryFromDirName('images 2024')).toBe('images-2024');
    expect(repositoryFromDirName('...')).toBeUndefined();
  });
});

describe('parseRange (RFC 9110 single byte ranges)', () => {
  it.each([
    ['bytes=0-9', [0, 10]],
    ['bytes=5-', [5, 100]],
    ['bytes=-10', [90, 100]],
    ['bytes=-1000', [0, 100]],
    ['bytes=90-200', [90, 100]],
    ['bytes=99-99', [99, 100]],
  ] as const)('Given %s of 100 bytes, Then [%s)', (header, want) => {
    expect(parseRange(header, 100)).toEqual(want);
  });

  it.each(['bytes=100-', 'bytes=100-200', 'bytes=-0'])(
    'Given %s of 100 bytes, Then unsatisfiable (416)',
    (h) => {
      expect(parseRange(h, 100)).toBe('unsatisfiable');
    },
  );

  it.each([undefined, 'bytes=9-1', 'bytes=0-1,5-6', 'items=0-1', 'bytes=-', 'bytes=a-b'])(
    'Given %s, Then the range is ignored and everything is sent',
    (h) => {
      expect(parseRange(h, 100)).toBeUndefined();
    },
  );
});
