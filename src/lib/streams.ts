/**
 * Reading a stream of byte chunks to its end. Streams that own their chunks (an HTTP body, stdin)
 * use `buffer()` / `text()` / `json()` from node:stream/consumers. Bundle readers may hand out
 * views of reused read buffers (bundle/source.ts ReadRing, lib/leases.ts) that are overwritten once
 * later chunks are read: `buffer()` keeps every chunk until the end (it builds a Blob from them), so
 * it would return whatever the buffers hold by then. `readAll` copies each chunk as it arrives.
 */
export async function readAll(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of chunks) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}
