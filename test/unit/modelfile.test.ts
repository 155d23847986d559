import { describe, expect, it } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';
import { parseModelfile, shortestFloat32 } from '../../src/sources/modelfile.js';

/** Parses `text` expecting a source error and returns its message. */
function failure(text: string): string {
  try {
    parseModelfile(text, 'models/Modelfile');
  } catch (err) {
    expect(err).toBeInstanceOf(KubechatError);
    expect((err as KubechatError).kind).toBe('source');
    expect((err as KubechatError).fix).toBeTruthy();
    return (err as KubechatError).message;
  }
  throw new Error('expected a parse error');
}

describe('parseModelfile', () => {
  it('reads every instruction, case-insensitively', () => {
    // Given a Modelfile using each instruction in mixed case
    const text = [
      '# assistant for the cluster',
      'FROM ./assist.gguf',
      'from llama3.2',
      'Parameter temperature 0.7',
      'PARAMETER num_ctx 4096',
      'PARAMETER stop <|im_end|>',
      'PARAMETER stop "<|im_start|>"',
      'PARAMETER use_mmap true',
      'system You are a helpful assistant.',
      'TEMPLATE {{ .Prompt }}',
      'ADAPTER ./lora.gguf',
      'LICENSE MIT',
      'LICENSE """Second license"""',
      'MESSAGE user Is the cluster healthy?',
      'MESSAGE assistant Yes.',
      'RENDERER qwen3',
      'PARSER qwen3',
      'REQUIRES v0.12.0',
    ].join('\n');
    // When it is parsed
    const mf = parseModelfile(text, 'Modelfile');
    // Then each value is kept, typed like Ollama types it
    expect(mf).toEqual({
      from: ['./assist.gguf', 'llama3.2'],
      adapter: { path: './lora.gguf', line: 11 },
      template: '{{ .Prompt }}',
      system: 'You are a helpful assistant.',
      licenses: ['MIT', 'Second license'],
      parameters: { temperature: 0.7, num_ctx: 4096, stop: ['<|im_end|>', '<|im_start|>'], use_mmap: true },
      messages: [
        { role: 'user', content: 'Is the cluster healthy?' },
        { role: 'assistant', content: 'Yes.' },
      ],
      renderer: 'qwen3',
      parser: 'qwen3',
      requires: '0.12.0',
      warnings: [],
    });
  });

  it('keeps triple-quoted multi-line values verbatim', () => {
    const text =
      'FROM x\nTEMPLATE """\n{{ if .System }}<|system|>\n{{ .System }}{{ end }}\n"""\nSYSTEM "  padded  "\n';
    const mf = parseModelfile(text, 'Modelfile');
    expect(mf.template).toBe('\n{{ if .System }}<|system|>\n{{ .System }}{{ end }}\n');
    expect(mf.system).toBe('  padded  ');
  });

  it('lets a quoted value span lines until its quotes balance, as Ollama does', () => {
    const mf = parseModelfile('SYSTEM "line one\nline "two"\nPARAMETER top_k 40', 'Modelfile');
    expect(mf.system).toBe('line one\nline "two');
    expect(mf.parameters).toEqual({ top_k: 40 });
  });

  it('treats # as a comment only at the start of an instruction', () => {
    const mf = parseModelfile('  # comment\nSYSTEM use # freely\n#SYSTEM ignored', 'Modelfile');
    expect(mf.system).toBe('use # freely');
  });

  it('handles CRLF line endings, a BOM and trailing blanks', () => {
    const mf = parseModelfile('\uFEFFFROM a.gguf  \r\nSYSTEM hi\r\n\r\nPARAMETER  seed 42\r\n', 'Modelfile');
    expect(mf).toMatchObject({ from: ['a.gguf'], system: 'hi', parameters: { seed: 42 } });
    expect(failure('FROM a\r\n\r\nBOGUS x\r\n')).toBe('models/Modelfile:3: unknown instruction "BOGUS"');
  });

  it('accepts a Modelfile without FROM (the bundle spec names the weights)', () => {
    expect(parseModelfile('SYSTEM hi', 'Modelfile').from).toEqual([]);
  });

  it('rounds floats to float32 and prints them as Go does', () => {
    const mf = parseModelfile('PARAMETER temperature 0.6\nPARAMETER top_p 1e-7\nPARAMETER min_p +.05', 'M');
    expect(mf.parameters).toEqual({ temperature: 0.6, top_p: 1e-7, min_p: 0.05 });
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(Math.fround(16777217))).toBe(16777216);
  });

  it('accepts Go boolean spellings and drops deprecated parameters with a warning', () => {
    const mf = parseModelfile('PARAMETER use_mmap F\nPARAMETER mirostat 2', 'Modelfile');
    expect(mf.parameters).toEqual({ use_mmap: false });
    expect(mf.warnings).toEqual(['PARAMETER mirostat is deprecated and ignored by Ollama']);
  });

  it('drops control and format characters from values like Ollama', () => {
    expect(parseModelfile('SYSTEM a\u0007b\u200dc\td', 'Modelfile').system).toBe('abc\td');
  });

  it.each([
    ['FROM x\nFROM2 y', 'models/Modelfile:2: unknown instruction "FROM2"'],
    ['FROM x\n\nWHATEVER y', 'models/Modelfile:3: unknown instruction "WHATEVER"'],
    ['SYSTEM', 'models/Modelfile:1: SYSTEM needs a value'],
    ['FROM x\nPARAMETER temperature hot', 'models/Modelfile:2: PARAMETER temperature "hot" is not a number'],
    ['PARAMETER temperature 1e39', 'models/Modelfile:1: PARAMETER temperature "1e39" is not a number'],
    ['PARAMETER num_ctx 4096.0', 'models/Modelfile:1: PARAMETER num_ctx "4096.0" is not an integer'],
    ['PARAMETER use_mmap yes', 'models/Modelfile:1: PARAMETER use_mmap "yes" is not a boolean'],
    ['PARAMETER bogus 1', 'models/Modelfile:1: unknown PARAMETER "bogus"'],
    ['PARAMETER', 'models/Modelfile:1: PARAMETER needs a value'],
    ['PARAMETER temperature', 'models/Modelfile:1: PARAMETER needs a parameter name followed by a value'],
    ['MESSAGE tool hi', 'models/Modelfile:1: MESSAGE role "tool" is not one of system, user, assistant'],
    ['FROM x\nSYSTEM """never closed\nmore', 'models/Modelfile:2: SYSTEM has an unterminated quoted value'],
    ['ADAPTER a.gguf\nADAPTER b.gguf', 'models/Modelfile:2: only one ADAPTER is supported'],
    ['DRAFT ./small.gguf', 'models/Modelfile:1: DRAFT models are not supported'],
    ['REQUIRES soon', 'models/Modelfile:1: REQUIRES "soon" is not a version'],
  ])('rejects %j', (text, message) => {
    expect(failure(text)).toBe(message);
  });
});
