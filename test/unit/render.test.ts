import { describe, expect, it } from 'vitest';
import { lineReporter } from '../../src/cli/render.js';

describe('lineReporter', () => {
  it('shows rate and time left for byte progress, one throttled line per task (parallel pulls each get theirs)', async () => {
    const lines: string[] = [];
    const r = lineReporter((l) => lines.push(l), 0);
    const MiB = 1024 * 1024;
    r.emit({ task: 'pull a', title: 'Pulling a', bytesDone: 0, bytesTotal: 100 * MiB });
    r.emit({ task: 'pull b', title: 'Pulling b', bytesDone: 0, bytesTotal: 10 * MiB });
    await new Promise((res) => setTimeout(res, 600));
    r.emit({ task: 'pull a', title: 'Pulling a', bytesDone: 50 * MiB, bytesTotal: 100 * MiB });
    r.emit({ task: 'pull b', title: 'Pulling b', bytesDone: 10 * MiB, bytesTotal: 10 * MiB, done: true });
    expect(lines[0]).toBe('Pulling a: 0% (0 B of 100 MiB)');
    expect(lines[2]).toMatch(/^Pulling a: 50% \(50\.0 MiB of 100 MiB, [\d.]+ MiB\/s, ETA \d+ s\)$/);
    expect(lines[3]).toMatch(/^Pulling b: 100% \(10\.0 MiB of 10\.0 MiB, [\d.]+ MiB\/s\)$/);
  });
});
