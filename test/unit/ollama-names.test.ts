/**
 * The one Ollama name parser (src/ollama/names.ts) against Ollama's rules (types/model/name.go), with
 * the cases where the CLI's three earlier parsers (models/names.ts, sources/model.ts,
 * targets/ollama-store.ts parseOllamaRef) disagreed.
 */
import { describe, expect, it } from 'vitest';
import {
  checkModelName,
  fullName,
  parseModelName,
  parseOllamaRef,
  shortName,
  splitVersionTag,
  versionTag,
} from '../../src/ollama/names.js';

const name = (host: string, namespace: string, model: string, tag: string) => ({
  host,
  namespace,
  model,
  tag,
});

describe('parseModelName', () => {
  it.each([
    ['assist', name('registry.ollama.ai', 'library', 'assist', 'latest')],
    ['team/coder:2', name('registry.ollama.ai', 'team', 'coder', '2')],
    ['reg.local:5000/ai/llm', name('reg.local:5000', 'ai', 'llm', 'latest')],
    ['reg.local:5000/ai/llm:1.0', name('reg.local:5000', 'ai', 'llm', '1.0')],
    // Ollama allows a leading _ in every part (the old models/names.ts refused it).
    ['_m:_t', name('registry.ollama.ai', 'library', '_m', '_t')],
    ['_ns/m', name('registry.ollama.ai', '_ns', 'm', 'latest')],
    // Ollama drops a scheme in front of the host (the old models/names.ts refused the name).
    ['https://reg.local/ai/llm:1', name('reg.local', 'ai', 'llm', '1')],
    ['http://reg.local:8080/ai/llm', name('reg.local:8080', 'ai', 'llm', 'latest')],
    // Case is kept as written.
    ['Team/Coder:Q4_K_M', name('registry.ollama.ai', 'Team', 'Coder', 'Q4_K_M')],
    [
      `${'m'.repeat(80)}:${'t'.repeat(80)}`,
      name('registry.ollama.ai', 'library', 'm'.repeat(80), 't'.repeat(80)),
    ],
  ])('Given %j, Then it reads the parts with Ollama defaults', (text, parts) => {
    expect(parseModelName(text)).toEqual(parts);
  });

  it.each([
    ['', 'model'],
    ['m:', 'tag'],
    ['/m', 'namespace'],
    ['a//m', 'namespace'],
    ['//m', 'host'],
    ['.hidden', 'model'],
    ['../x:1', 'namespace'],
    ['ns/..', 'model'],
    ['m:..', 'tag'],
    ['m:-x', 'tag'],
    ['Bad Name', 'model'],
    ['m@sha256:abc', 'model'],
    // A '.' in a namespace: the old models/names.ts and parseOllamaRef accepted it, Ollama does not.
    ['my.org/m', 'namespace'],
    // Longer than Ollama allows: the old models/names.ts accepted models of any length and tags up to 128.
    [`${'m'.repeat(81)}`, 'model'],
    [`m:${'t'.repeat(81)}`, 'tag'],
    [`${'h'.repeat(351)}/ns/m`, 'host'],
    // Four parts: what is left of the namespace is the host, and a host has no '/'.
    ['a/b/c/d:1', 'host'],
    ['h/ns:1/m', 'namespace'],
  ])('Given %j, Then it is refused for its %s', (text, part) => {
    expect(parseModelName(text)).toBeUndefined();
    const c = checkModelName(text);
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.part).toBe(part);
  });
});

describe('parseOllamaRef: a bundle reference, always written in full', () => {
  it('reads host/namespace/model:tag', () => {
    expect(parseOllamaRef('localhost:5000/team/m:q4')).toEqual(name('localhost:5000', 'team', 'm', 'q4'));
    expect(parseOllamaRef('registry.ollama.ai/_x/m:1')).toEqual(name('registry.ollama.ai', '_x', 'm', '1'));
  });

  it.each(['assist:1.0', 'team/m:1', 'h/ns/m', 'https://h/ns/m:1', 'h/my.org/m:1', '../../etc/m:1'])(
    'refuses %j: not in full, or not a name',
    (ref) => {
      expect(() => parseOllamaRef(ref)).toThrow(/not host\/namespace\/model:tag/);
    },
  );
});

describe('shortName and fullName', () => {
  it('drops the default host and namespace as Ollama does, compared without case', () => {
    const n = parseModelName('assist:1.0')!;
    expect(shortName(n)).toBe('assist:1.0');
    expect(fullName(n)).toBe('registry.ollama.ai/library/assist:1.0');
    expect(shortName(parseModelName('team/m:1')!)).toBe('team/m:1');
    expect(shortName(parseModelName('h:1/team/m:1')!)).toBe('h:1/team/m:1');
    // The old targets/ollama-store.ts shortName compared with case and kept the host here.
    expect(shortName(parseModelName('Registry.Ollama.AI/Library/m:1')!)).toBe('m:1');
    expect(shortName(parseModelName('Registry.Ollama.AI/Team/m:1')!)).toBe('Team/m:1');
  });

  it('round-trips: the short and the full name parse back to the same parts', () => {
    for (const text of ['assist', 'team/m:2', 'reg.local:5000/ai/llm:1.0', '_m:_t']) {
      const n = parseModelName(text)!;
      expect(parseModelName(shortName(n))).toEqual(n);
      expect(parseOllamaRef(fullName(n))).toEqual(n);
    }
  });
});

describe('version tags', () => {
  it('are <tag>-<12 hex> and split back', () => {
    const tag = versionTag('1.0', `sha256:${'0123456789ab'.repeat(5)}abcd`);
    expect(tag).toBe('1.0-0123456789ab');
    expect(splitVersionTag(tag)).toEqual({ serving: '1.0', short: '0123456789ab' });
    expect(splitVersionTag('1.0')).toBeUndefined();
    expect(parseModelName(`assist:${tag}`)?.tag).toBe(tag);
  });
});
