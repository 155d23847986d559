import { describe, expect, it } from 'vitest';
import { readAll } from '../../src/lib/streams.js';

describe('readAll', () => {
  it('Given chunks that are views of one reused buffer, When read to the end, Then each chunk is kept as it was', async () => {
    const shared = Buffer.alloc(3);
    async function* reused() {
      for (const text of ['abc', 'def', 'ghi']) {
        shared.write(text);
        yield shared;
      }
    }
    expect((await readAll(reused())).toString()).toBe('abcdefghi');
  });

  it('Given no chunks, When read, Then the result is empty', async () => {
    expect((await readAll((async function* () {})())).length).toBe(0);
  });
});
