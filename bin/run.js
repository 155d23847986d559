#!/usr/bin/env node
// V8's code cache for the CLI's modules (in $TMPDIR/node-compile-cache; NODE_DISABLE_COMPILE_CACHE=1
// turns it off): start-up is most of a no-op run, such as an install re-run. A cache that cannot be
// written is skipped silently. Static imports would load before this line: oclif is imported after.
// A namespace import, so an older Node (without enableCompileCache) still starts and can print
// the engines error instead of a SyntaxError.
import * as nodeModule from 'node:module';

nodeModule.enableCompileCache?.();
const { execute } = await import('@oclif/core');
await execute({ dir: import.meta.url });
