// Writes oclif.manifest.json (run after tsc): with it, oclif reads one file at start-up instead of
// importing every command to learn its flags. Regenerated on every build, never committed.
import { rm, writeFile } from 'node:fs/promises';
import { Config } from '@oclif/core';

const file = new URL('../oclif.manifest.json', import.meta.url);
await rm(file, { force: true }); // a stale manifest would be read back instead of the commands
const config = await Config.load(new URL('..', import.meta.url).pathname);
await writeFile(file, JSON.stringify(config.rootPlugin.manifest, null, 2) + '\n');
