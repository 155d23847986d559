/** Small helpers shared by the unit tests. */
import { expect } from 'vitest';
import { KubechatError } from '../../src/lib/errors.js';

/** Awaits a promise that must reject with a KubechatError, and returns the error. */
export async function failure(promise: Promise<unknown>): Promise<KubechatError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KubechatError);
  return err as KubechatError;
}

/** A source error (exit 4) that comes with a fix. */
export async function sourceFailure(promise: Promise<unknown>): Promise<KubechatError> {
  const err = await failure(promise);
  expect(err.kind).toBe('source');
  expect(err.fix).toBeTruthy();
  return err;
}

export async function* chunked(data: Buffer, size = 10_000): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

export async function collect(it: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
