/**
 * Cleanup on Ctrl-C / SIGTERM: work that leaves temporary files registers how to remove them, and
 * an interrupted command removes them before it exits (130 for SIGINT, 143 for SIGTERM).
 */
import { ExitCode } from './exit-codes.js';

const cleanups = new Set<() => Promise<void>>();
let installed = false;
let received: NodeJS.Signals | undefined;
let screen: (() => Promise<void>) | undefined;

/**
 * The signal being handled, once one came. The cleanup removes files under work still running, so
 * that work may fail (a directory vanished under it); such a failure must not end the process before
 * the cleanup does, with its own exit code and an "unexpected error" (see lib/command.ts).
 */
export function interruptedBy(): NodeJS.Signals | undefined {
  return received;
}

/**
 * Registers how to stop what draws on the terminal (the CLI's live progress), until the returned
 * function is called. A live renderer holds stderr and redraws over it: left running, it would
 * swallow the interrupted line and leave a spinner frozen mid-frame.
 */
export function onInterruptStopScreen(stop: () => Promise<void>): () => void {
  screen = stop;
  return () => {
    if (screen === stop) screen = undefined;
  };
}

async function onSignal(signal: NodeJS.Signals) {
  received = signal;
  const code = signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.terminated;
  // Bounded: an interrupt is answered even if the renderer does not stop.
  if (screen) await Promise.race([screen().catch(() => undefined), delay(300)]);
  process.stderr.write(`\ninterrupted (${signal}): removing partial output\n`);
  await Promise.allSettled([...cleanups].map((c) => c()));
  process.stderr.write(`interrupted (exit ${code})\n`);
  process.exit(code);
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

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
