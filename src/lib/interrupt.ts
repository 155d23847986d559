/**
 * Cleanup on Ctrl-C / SIGTERM: work that leaves temporary files registers how to remove them, and
 * an interrupted command removes them before it exits (130 for SIGINT, 143 for SIGTERM).
 */
import { ExitCode } from './exit-codes.js';

const cleanups = new Set<() => Promise<void>>();
let installed = false;
let received: NodeJS.Signals | undefined;

/**
 * The signal being handled, once one came. The cleanup removes files under work still running, so
 * that work may fail (a directory vanished under it); such a failure must not end the process before
 * the cleanup does, with its own exit code and an "unexpected error" (see lib/command.ts).
 */
export function interruptedBy(): NodeJS.Signals | undefined {
  return received;
}

async function onSignal(signal: NodeJS.Signals) {
  received = signal;
  process.stderr.write(`\ninterrupted (${signal}): removing partial output\n`);
  await Promise.allSettled([...cleanups].map((c) => c()));
  process.exit(signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated);
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
