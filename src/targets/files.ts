/**
 * `--files-dir DIR`: the bundle's files/ entries (docs, plain manifests, migrations) written under DIR
 * with their relative paths and modes (files/docs/index.md → DIR/docs/index.md), each atomically.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve, sep } from 'node:path';
import { targetError } from '../lib/errors.js';
import { fileSize, writeTargetFile } from './fs.js';
import type { FileTarget } from '../install/types.js';

export class FilesDirTarget implements FileTarget {
  readonly id: string;
  readonly label: string;
  readonly #root: string;

  constructor(dir: string) {
    this.#root = resolve(dir);
    this.id = `files:${this.#root}`;
    this.label = `files ${dir}`;
  }

  #path(relative: string): string {
    const p = resolve(this.#root, relative);
    // The tar reader refuses ../ and absolute entries; this is the last line of defence.
    if (!p.startsWith(this.#root + sep)) throw targetError(`files/${relative}: escapes ${this.#root}`);
    return p;
  }

  prepare(): Promise<void> {
    return Promise.resolve();
  }

  async hasFile(relative: string, size: number, sha256: string): Promise<boolean> {
    const p = this.#path(relative);
    if ((await fileSize(p)) !== size) return false;
    const hash = createHash('sha256');
    for await (const c of createReadStream(p) as AsyncIterable<Buffer>) hash.update(c);
    return hash.digest('hex') === sha256;
  }

  async writeFile(relative: string, mode: number, data: AsyncIterable<Buffer>): Promise<void> {
    await writeTargetFile(this.#path(relative), data, mode);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
