/**
 * A load test through /api/generate: `requests` completions, `concurrency` in flight at once. The
 * latency percentiles are nearest-rank over every successful request; tokens/s is what the server
 * measured while generating (eval_count / eval_duration), and throughput is tokens over wall time.
 */
import { forEachLimit } from '../lib/concurrency.js';

export interface BenchRequest {
  ok: boolean;
  latencyMs: number;
  tokens: number;
  /** Server-side generation time (eval_duration), ns. */
  evalNs: number;
  error?: string;
}

export interface BenchSummary {
  requests: number;
  concurrency: number;
  ok: number;
  errors: number;
  /** The first distinct error messages (at most 5). */
  errorMessages: string[];
  latencyMs: { p50: number | null; p95: number | null; p99: number | null; mean: number | null };
  tokens: number;
  /** eval_count / eval_duration over the successful requests (what one stream generates per second). */
  tokensPerSecond: number | null;
  /** Every token over the wall time of the whole run (what the node serves at this concurrency). */
  throughputTokensPerSecond: number | null;
  wallSeconds: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runBench(
  send: () => Promise<{ tokens: number; evalNs: number }>,
  opts: { requests: number; concurrency: number; onDone?: (r: BenchRequest) => void },
): Promise<{ summary: BenchSummary; results: BenchRequest[] }> {
  const results: BenchRequest[] = [];
  const started = performance.now();
  await forEachLimit(opts.requests, opts.concurrency, async () => {
    const t = performance.now();
    let r: BenchRequest;
    try {
      const { tokens, evalNs } = await send();
      r = { ok: true, latencyMs: performance.now() - t, tokens, evalNs };
    } catch (err) {
      r = {
        ok: false,
        latencyMs: performance.now() - t,
        tokens: 0,
        evalNs: 0,
        error: (err as Error).message,
      };
    }
    results.push(r);
    opts.onDone?.(r);
  });
  const wallSeconds = (performance.now() - started) / 1000;
  return { summary: summarize(results, opts.concurrency, wallSeconds), results };
}

export function summarize(results: BenchRequest[], concurrency: number, wallSeconds: number): BenchSummary {
  const ok = results.filter((r) => r.ok);
  const lat = ok.map((r) => r.latencyMs).sort((a, b) => a - b);
  const tokens = ok.reduce((n, r) => n + r.tokens, 0);
  const evalNs = ok.reduce((n, r) => n + r.evalNs, 0);
  const round = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100);
  return {
    requests: results.length,
    concurrency,
    ok: ok.length,
    errors: results.length - ok.length,
    errorMessages: [...new Set(results.flatMap((r) => (r.error ? [r.error] : [])))].slice(0, 5),
    latencyMs: {
      p50: round(percentile(lat, 50)),
      p95: round(percentile(lat, 95)),
      p99: round(percentile(lat, 99)),
      mean: round(lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : null),
    },
    tokens,
    tokensPerSecond: round(evalNs > 0 ? tokens / (evalNs / 1e9) : null),
    throughputTokensPerSecond: round(wallSeconds > 0 && tokens > 0 ? tokens / wallSeconds : null),
    wallSeconds: Math.round(wallSeconds * 1000) / 1000,
  };
}
