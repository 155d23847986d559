/**
 * Cleanup on Ctrl-C / SIGTERM: work that leaves temporary files registers how to remove them, and
 * an interrupted command removes them before it exits (130 for SIGINT, 143 for SIGTERM).
 */
const cleanups = new Set<() => Promise<void>>();
let installed = false;

async function onSignal(signal: NodeJS.Signals) {
  process.stderr.write(`\ninterrupted (${signal}): removing partial output\n`);
  await Promise.allSettled([...cleanups].map((c) => c()));
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Registers `cleanup` until the returned function is called. */
export function onInterrupt(cleanup: () => Promise<void>): () => void {
  if (!installed) {
    installed = true;
    process.once('SIGINT', (s) => void onSignal(s));
    process.once('SIGTERM', (s) => void onSignal(s));
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}
