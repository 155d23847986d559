/**
 * `kubechat validate` as a service: run the suites, write the JUnit report (atomically: a CI job
 * never reads half a file), return the report. Install calls `runValidation` for its preflight and
 * post-install checks.
 */
import { resolve } from 'node:path';
import { writeOutputFile } from '../lib/fs.js';
import { junitXml } from './report/junit.js';
import { runValidation, type ValidateOptions } from './run.js';
import type { ValidationReport } from './types.js';

export { runValidation, type ValidateOptions } from './run.js';
export type { ValidateInputs } from './context.js';
export * from './types.js';

export async function validate(options: ValidateOptions & { junit?: string }): Promise<ValidationReport> {
  const report = await runValidation(options);
  if (options.junit) {
    const path = resolve(options.junit);
    await writeOutputFile(path, junitXml(report), 0o644, true);
    report.junit = path;
  }
  return report;
}
