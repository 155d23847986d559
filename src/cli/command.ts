/**
 * Base for every kubechat command: `--json` (results on stdout, progress on stderr), and errors
 * rendered as one line plus a fix, with the documented exit code (README "Exit codes").
 */
import { Command, Errors, type Interfaces } from '@oclif/core';
import { ExitCode, KubechatError } from '../lib/errors.js';
import { interruptedBy } from '../lib/interrupt.js';
import { fixForCommand } from './fix-flags.js';
import { resolveBareInsecureRegistry, rewriteBareInsecureRegistry } from './registry-flags.js';
import { withProgress } from './render.js';
import type { Reporter } from '../lib/progress.js';

export abstract class KubechatCommand extends Command {
  static override enableJsonFlag = true;

  /**
   * Parses as oclif does, plus the boolean form of --insecure-registry that install and validate
   * (the commands with a --registry) still accept, with a warning: see registry-flags.ts.
   */
  // oclif's own signature: its flag and argument records are `Record<string, any>`.
  /* eslint-disable @typescript-eslint/no-explicit-any */
  protected override async parse<
    F extends Record<string, any>,
    B extends Record<string, any>,
    A extends Record<string, any>,
  >(
    options?: Interfaces.Input<F, B, A>,
    argv: string[] = this.argv,
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    /* eslint-enable @typescript-eslint/no-explicit-any */
    const legacy = Boolean(options?.flags?.['insecure-registry'] && options.flags.registry);
    const out = await super.parse(options, legacy ? rewriteBareInsecureRegistry(argv) : argv);
    if (legacy) {
      const flags = out.flags as Record<string, unknown>;
      flags['insecure-registry'] = resolveBareInsecureRegistry(
        flags['insecure-registry'] as string[] | undefined,
        flags.registry as string | undefined,
        (m) => process.stderr.write(`warning: ${m}\n`),
      );
    }
    return out;
  }

  /** Runs a service with progress rendered for the current output (terminal, pipe, --json). */
  protected progress<T>(title: string, work: (reporter: Reporter) => Promise<T>): Promise<T> {
    return withProgress(title, { json: this.jsonEnabled() }, work);
  }

  /** Human output: stdout, suppressed under --json (oclif prints the returned result instead). */
  protected say(line = ''): void {
    this.log(line);
  }

  /**
   * Ends a command whose report is also a failure (a check that found something): with --json the
   * report is printed and the process exits with `err`'s code; otherwise `err` is thrown and rendered.
   */
  protected failWithReport(report: unknown, err: KubechatError): never {
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      this.exit(err.exitCode);
    }
    throw err;
  }

  protected override async catch(
    err: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    // Interrupted: the cleanup removing our partial output is what made the work fail. It ends the
    // process itself (130 or 143) once done; reporting this error would exit first, with its code.
    if (interruptedBy()) return new Promise<never>(() => undefined);
    const known = err instanceof KubechatError ? err : undefined;
    const exitCode = known?.exitCode ?? err.oclif?.exit ?? ExitCode.internal;
    const fix =
      known?.fixTemplate !== undefined
        ? fixForCommand(known.fixTemplate, Object.keys((this.constructor as typeof Command).flags ?? {}))
        : exitCode === ExitCode.usage
          ? `run kubechat ${this.id ?? ''} --help`
          : undefined;
    const kind = known?.kind ?? (exitCode === ExitCode.usage ? 'usage' : 'internal');
    const message =
      known || exitCode === ExitCode.usage ? err.message.split('\n')[0]! : `unexpected error: ${err.message}`;
    if (this.jsonEnabled()) {
      process.stdout.write(
        JSON.stringify({ error: { kind, exitCode, message, fix: fix ?? null } }, null, 2) + '\n',
      );
    } else {
      process.stderr.write(`error: ${message}\n`);
      if (fix) process.stderr.write(`fix: ${fix}\n`);
      if (!known && exitCode === ExitCode.internal) {
        process.stderr.write(
          'this is a bug in kubechat; rerun with DEBUG=kubechat for details and report it\n',
        );
        if (process.env.DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
      }
    }
    return this.exit(exitCode);
  }
}
