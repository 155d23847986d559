/**
 * Ollama Modelfile parser (ollama/ollama docs/modelfile.md, parser/parser.go). It accepts what
 * `ollama create` accepts and yields the values Ollama would store, so a bundled model carries the
 * same template/system/params/messages layers. Deliberate differences, all lenient: FROM may be
 * missing (kubechat's spec names the weights), PARAMETER names and MESSAGE roles are
 * case-insensitive, extra blanks after PARAMETER are allowed. DRAFT is refused (not supported).
 */
import { sourceError } from '../lib/errors.js';

export type ParameterValue = number | boolean | string[];

export interface ModelfileMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Modelfile {
  /** FROM arguments in order. Informational: the caller passes the GGUF path itself. */
  from: string[];
  /** ADAPTER argument as written (resolve it against the Modelfile's directory) and its line. */
  adapter?: { path: string; line: number };
  template?: string;
  system?: string;
  licenses: string[];
  /** Typed like Ollama's api.FormatParams: integers, float32-rounded floats, booleans, stop → string[]. */
  parameters: Record<string, ParameterValue>;
  messages: ModelfileMessage[];
  renderer?: string;
  parser?: string;
  requires?: string;
  /** Non-fatal findings, e.g. deprecated parameters Ollama ignores. */
  warnings: string[];
}

const INSTRUCTIONS =
  'FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE, MESSAGE, RENDERER, PARSER, REQUIRES';
const KNOWN = new Set(INSTRUCTIONS.toLowerCase().split(', '));
const INT_PARAMS = new Set(['num_ctx', 'num_batch', 'num_gpu', 'main_gpu', 'num_thread', 'draft_num_predict', 'num_keep', 'seed', 'num_predict', 'top_k', 'repeat_last_n']); // prettier-ignore
const FLOAT_PARAMS = new Set(['top_p', 'min_p', 'typical_p', 'temperature', 'repeat_penalty', 'presence_penalty', 'frequency_penalty']); // prettier-ignore
// Ollama warns about these and drops them.
const DEPRECATED_PARAMS = new Set(['penalize_newline', 'low_vram', 'f16_kv', 'logits_all', 'vocab_only', 'use_mlock', 'mirostat', 'mirostat_tau', 'mirostat_eta']); // prettier-ignore
const ALL_PARAMS = [...INT_PARAMS, ...FLOAT_PARAMS, 'use_mmap', 'stop'];
const GO_BOOLS: Record<string, boolean> = { '1': true, t: true, T: true, TRUE: true, true: true, True: true, '0': false, f: false, F: false, FALSE: false, false: false, False: false }; // prettier-ignore
const FIX = 'see the Modelfile reference: https://github.com/ollama/ollama/blob/main/docs/modelfile.md';

export function parseModelfile(text: string, file: string): Modelfile {
  const src = text.replace(/^\uFEFF/, '');
  const out: Modelfile = { from: [], licenses: [], parameters: {}, messages: [], warnings: [] };
  let i = 0;
  let line = 1;
  const fail = (at: number, message: string, fix = FIX) => sourceError(`${file}:${at}: ${message}`, fix);
  const isBlank = (c: string | undefined) => c === ' ' || c === '\t';
  const word = (re: RegExp) => {
    re.lastIndex = i;
    const m = re.exec(src);
    i += m ? m[0].length : 0;
    return m ? m[0] : '';
  };

  while (i < src.length) {
    const c = src[i];
    if (c === '\n' || (c === '\r' && src[i + 1] !== '\n')) line++;
    if (c === '\n' || c === '\r' || isBlank(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n' && src[i] !== '\r') i++;
      continue;
    }

    const at = line;
    const name = word(/[A-Za-z]+/y);
    const instruction = name.toLowerCase();
    if (!isBlank(src[i])) {
      const atEnd = i >= src.length || src[i] === '\n' || src[i] === '\r';
      if (atEnd && KNOWN.has(instruction)) throw fail(at, `${name.toUpperCase()} needs a value`);
      const bad = name + word(/\S*/y);
      throw fail(at, `unknown instruction "${bad}"`, `use one of ${INSTRUCTIONS}`);
    }
    if (instruction === 'draft') throw fail(at, 'DRAFT models are not supported', 'remove the DRAFT line');
    if (!KNOWN.has(instruction)) {
      throw fail(at, `unknown instruction "${name}"`, `use one of ${INSTRUCTIONS}`);
    }
    i++;

    // PARAMETER and MESSAGE take a name (or role) before the value.
    let key = '';
    if (instruction === 'parameter' || instruction === 'message') {
      while (isBlank(src[i])) i++;
      key = word(instruction === 'parameter' ? /[A-Za-z0-9_]+/y : /[A-Za-z]+/y).toLowerCase();
      if (!key || !isBlank(src[i])) {
        const what = instruction === 'parameter' ? 'a parameter name' : 'a role';
        throw fail(at, `${name.toUpperCase()} needs ${what} followed by a value`);
      }
      i++;
    }

    // Like Ollama: a value runs to the end of a line on which its quotes are balanced.
    let raw = '';
    let value: string | undefined;
    for (;;) {
      let j = i;
      while (j < src.length && src[j] !== '\n' && src[j] !== '\r') j++;
      raw += printable(src.slice(i, j));
      i = j;
      value = unquote(raw.trim());
      if (value !== undefined || i >= src.length) break;
      if (src[i] === '\n' || src[i + 1] !== '\n') line++;
      raw += src[i++];
    }
    if (value === undefined) {
      throw fail(at, `${name.toUpperCase()} has an unterminated quoted value`, 'close it with " or """');
    }

    switch (instruction) {
      case 'from':
        out.from.push(value);
        break;
      case 'adapter':
        if (out.adapter) throw fail(at, 'only one ADAPTER is supported', 'keep a single ADAPTER line');
        out.adapter = { path: value, line: at };
        break;
      case 'license':
        out.licenses.push(value);
        break;
      case 'template':
        out.template = value;
        break;
      case 'system':
        out.system = value;
        break;
      case 'renderer':
        out.renderer = value;
        break;
      case 'parser':
        out.parser = value;
        break;
      case 'requires': {
        if (!/^v?\d+(\.\d+(\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?)?$/.test(value)) {
          throw fail(
            at,
            `REQUIRES "${value}" is not a version`,
            'write a semantic version, e.g. REQUIRES 0.14.0',
          );
        }
        out.requires = value.replace(/^v/, '');
        break;
      }
      case 'message':
        if (key !== 'system' && key !== 'user' && key !== 'assistant') {
          throw fail(at, `MESSAGE role "${key}" is not one of system, user, assistant`);
        }
        out.messages.push({ role: key, content: value });
        break;
      default:
        setParameter(out, key, value, (message, fix) => fail(at, message, fix));
    }
  }
  return out;
}

type Fail = (message: string, fix?: string) => Error;

/** Types a PARAMETER value as Ollama's api.FormatParams does (strconv.ParseInt/ParseFloat(32)/ParseBool). */
function setParameter(out: Modelfile, key: string, value: string, fail: Fail): void {
  if (DEPRECATED_PARAMS.has(key)) {
    out.warnings.push(`PARAMETER ${key} is deprecated and ignored by Ollama`);
    return;
  }
  if (key === 'stop') {
    const prev = out.parameters.stop;
    out.parameters.stop = [...(Array.isArray(prev) ? prev : []), value];
  } else if (INT_PARAMS.has(key)) {
    const n = /^[+-]?\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n)) {
      throw fail(`PARAMETER ${key} "${value}" is not an integer`, `write a whole number, e.g. PARAMETER ${key} 4096`); // prettier-ignore
    }
    out.parameters[key] = n;
  } else if (FLOAT_PARAMS.has(key)) {
    const n = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(value) ? Math.fround(Number(value)) : NaN;
    if (!Number.isFinite(n)) {
      throw fail(`PARAMETER ${key} "${value}" is not a number`, `write a decimal number, e.g. PARAMETER ${key} 0.7`); // prettier-ignore
    }
    out.parameters[key] = shortestFloat32(n);
  } else if (key === 'use_mmap') {
    const b = GO_BOOLS[value];
    if (b === undefined) throw fail(`PARAMETER ${key} "${value}" is not a boolean`, 'write true or false');
    out.parameters[key] = b;
  } else {
    throw fail(`unknown PARAMETER "${key}"`, `use one of ${ALL_PARAMS.join(', ')}`);
  }
}

/**
 * The shortest decimal that reads back as the same float32. Ollama stores these values as Go
 * float32, which encoding/json prints this way ("0.7", not 0.699999988079071).
 */
export function shortestFloat32(f: number): number {
  for (let p = 1; p <= 9; p++) {
    const d = Number(f.toPrecision(p));
    if (Math.fround(d) === f) return d;
  }
  return f;
}

/** Ollama's unquote: """...""" or "..." taken verbatim (no escapes); undefined while still open. */
function unquote(s: string): string | undefined {
  if (s.startsWith('"""')) return s.length >= 6 && s.endsWith('"""') ? s.slice(3, -3) : undefined;
  if (s.startsWith('"')) return s.length >= 2 && s.endsWith('"') ? s.slice(1, -1) : undefined;
  return s;
}

/**
 * Ollama keeps only strconv.IsPrint runes, blanks and line breaks in values (so control and format
 * characters such as U+200D vanish); doing the same keeps layer contents identical.
 */
function printable(s: string): string {
  return s.replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S} \t]/gu, '');
}
