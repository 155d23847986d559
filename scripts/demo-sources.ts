/** `npm run demo`: writes the demo's generated sources next to bundles/demo.yaml. */
import { resolve } from 'node:path';
import { writeDemoSources } from '../test/support/demo-sources.js';

const dir = resolve(process.argv[2] ?? 'bundles/demo-sources');
await writeDemoSources(dir);
process.stderr.write(`demo sources written to ${dir}\n`);
