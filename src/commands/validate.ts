import { Flags } from '@oclif/core';
import { KubechatCommand } from '../cli/command.js';
import { databaseFlags } from '../cli/database-flags.js';
import { registryAccessFlags } from '../cli/registry-flags.js';
import { ExitCode, KubechatError } from '../lib/errors.js';
import { loadTrustedKeys } from '../signing/trust.js';
import { trustFlags } from '../cli/trust-flags.js';
import type { TrustedKey } from '../signing/signature.js';
import { validate } from '../validate/index.js';
import { reportTable } from '../validate/report/table.js';
import { parseProbe } from '../validate/suites/airgap.js';
import { SUITES, ValidateExit, type SuiteName, type ValidationReport } from '../validate/types.js';

const usage = (message: string, fix: string) => new KubechatError('usage', message, fix);

export default class Validate extends KubechatCommand {
  static override summary = 'Check that an air-gapped installation is complete, intact, isolated and secure.';
  static override description = `Runs validation suites, each a list of named checks that pass, warn, fail or are skipped with a one-line reason and fix. Every check of every suite runs concurrently. Suites whose inputs are not given are skipped, not failed; when every suite is skipped there is nothing to validate, and validate exits ${ExitCode.usage} unless --allow-empty:

  preflight  clock sane (bundle not created in the future), targets reachable or writable, disk space for what the bundle still has to write, --free-port ports free
  bundle     signature (trusted signer, not expired) and every entry against the manifest (--bundle)
  registry   every image and chart of the bundle under its tag with the bundle's digest, every manifest and blob answers HEAD, TLS certificate valid (--bundle, --registry HOST or oci:DIR)
  models     every model in each --ollama-store with every blob re-hashed and the bundle's manifest; listed with its weights on each --ollama endpoint; --smoke: one completion per model, with its latency
  database   reachable, migrations at head without drift, every table present, the bundle's deployment recorded as installed (--database-url or --embedded-database)
  security   key and password files owner-only, certificates not writable by others (--secret-file, --registry-ca), no default or empty password recorded, TLS on every non-loopback endpoint
  airgap     egress blocked: TCP connections and DNS lookups to the probe targets must fail (default: public registries and resolvers; --egress-probe replaces them). Runs only with --suite airgap or --egress-probe

Output: a table; --json (schemas/results/validate.schema.json); --junit FILE (JUnit XML, one testsuite per suite, one testcase per check). Without --database-url (or KUBECHAT_DATABASE_URL) or --embedded-database, the database suite is skipped and nothing is recorded. With a database, the run is recorded: one validation_reports row (linked to the bundle's deployment) and one airgap_tests row per check.

Exit codes (the outcomes of the checks have codes of their own): ${ExitCode.ok} every check passed (or was skipped), ${ExitCode.validateFailed} a check failed, ${ExitCode.validateWarned} warnings only and --fail-on warn, ${ExitCode.usage} usage (bad flag), ${ExitCode.output} the --junit file cannot be written, ${ExitCode.internal} internal error.`;

  static override examples = [
    '<%= config.bin %> validate --bundle demo-1.0.0.kcb.tar.zst --registry 10.0.0.5:5443 --registry-ca ca.pem --ollama-store /var/lib/ollama/models --database-url postgres://kubechat:PW@db:5432/kubechat',
    '<%= config.bin %> validate --suite airgap --egress-probe proxy.corp.example:3128 --egress-probe 8.8.8.8:53',
    '<%= config.bin %> validate --suite models --bundle B --ollama http://gpu1:11434 --ollama http://gpu2:11434 --smoke --junit models.xml',
  ];

  static override flags = {
    suite: Flags.string({
      summary: 'Run only this suite (repeatable). Default: every suite; those without inputs are skipped.',
      options: [...SUITES],
      multiple: true,
    }),
    bundle: Flags.string({
      summary: 'The bundle that was (or will be) installed: file, first part or parts file.',
    }),
    registry: Flags.string({
      summary: 'Where the images and charts are: HOST[:PORT] of an OCI registry, or oci:DIR.',
      env: 'KUBECHAT_REGISTRY',
    }),
    'registry-prefix': Flags.string({ summary: 'The --registry-prefix the bundle was installed with.' }),
    ...registryAccessFlags,
    'ollama-store': Flags.string({
      summary: 'An Ollama models directory to check (repeatable).',
      multiple: true,
    }),
    ollama: Flags.string({
      summary: 'An Ollama server URL to check (repeatable: one per GPU node).',
      multiple: true,
    }),
    'files-dir': Flags.string({
      summary: 'The --files-dir of the install (preflight: writable, disk space).',
    }),
    ...databaseFlags,
    'embedded-database': Flags.boolean({
      summary: 'Check kubechat’s embedded PostgreSQL ($KUBECHAT_HOME/postgres), started for this command.',
    }),
    ...trustFlags,
    'allow-unsigned': Flags.boolean({ summary: 'An unsigned bundle is a warning instead of a failure.' }),
    'allow-expired': Flags.boolean({ summary: 'An expired bundle is a warning instead of a failure.' }),
    'egress-probe': Flags.string({
      summary: 'HOST:PORT the airgap suite must not reach (repeatable); replaces the default public probes.',
      multiple: true,
    }),
    'egress-timeout': Flags.integer({
      summary: 'Seconds one egress probe may take; one that times out counts as blocked.',
      default: 3,
      min: 1,
      max: 60,
    }),
    smoke: Flags.boolean({ summary: 'Ask each --ollama endpoint for one short completion per model.' }),
    'free-port': Flags.string({
      summary: '[HOST:]PORT that must be free to listen on (repeatable).',
      multiple: true,
    }),
    'secret-file': Flags.string({
      summary: 'A key, certificate or password file whose permissions security checks (repeatable).',
      multiple: true,
    }),
    junit: Flags.string({
      summary: 'Also write the results as JUnit XML to this file (for Jenkins, GitLab).',
    }),
    'fail-on': Flags.string({
      summary: `warn: exit ${ExitCode.validateWarned} when there are warnings but no failure.`,
      options: ['fail', 'warn'],
      default: 'fail',
    }),
    concurrency: Flags.integer({ summary: 'Checks in flight at once.', default: 8, min: 1, max: 64 }),
    'allow-empty': Flags.boolean({
      summary: `Exit ${ExitCode.ok} when every suite is skipped for lack of inputs (without it: exit ${ExitCode.usage}, nothing to validate).`,
    }),
  };

  async run(): Promise<ValidationReport> {
    const { flags } = await this.parse(Validate);
    for (const p of flags['egress-probe'] ?? [])
      if (!parseProbe(p))
        throw usage(`--egress-probe ${p}: not HOST:PORT`, 'write it as host.example:443 or 10.0.0.1:53');
    for (const p of flags['free-port'] ?? [])
      if (!/^(?:.+:)?\d{1,5}$/.test(p) || Number(p.split(':').pop()) > 65535)
        throw usage(`--free-port ${p}: not [HOST:]PORT`, 'write it as 5000 or 127.0.0.1:5000');
    for (const u of flags.ollama ?? [])
      if (!URL.canParse(/^[a-z]+:\/\//i.test(u) ? u : `http://${u}`))
        throw usage(`--ollama ${u}: not a URL`, 'write it as http://HOST:11434');
    const databaseUrl = flags['database-url'];
    if (
      flags['embedded-database'] &&
      databaseUrl &&
      this.argv.some((a) => a.split('=')[0] === '--database-url')
    )
      throw usage('--embedded-database and --database-url name two databases', 'pass one of them');
    let keys: Promise<TrustedKey[]> | undefined;
    const trustedKeys = () =>
      (keys ??= loadTrustedKeys({ keyFiles: flags['trusted-key'], trustDir: flags['trust-dir'] }));
    const report = await this.progress('Validating', (reporter) =>
      validate({
        inputs: {
          bundlePath: flags.bundle,
          registry: flags.registry,
          registryPrefix: flags['registry-prefix'],
          registryCa: flags['registry-ca'],
          registryAuth: flags['registry-auth'],
          insecureRegistry: flags['insecure-registry'],
          ollamaStores: flags['ollama-store'],
          ollamaUrls: flags.ollama,
          filesDir: flags['files-dir'],
          database:
            flags['embedded-database'] || databaseUrl
              ? {
                  url: flags['embedded-database'] ? undefined : databaseUrl,
                  embedded: flags['embedded-database'],
                }
              : undefined,
          trustedKeys,
          allowUnsigned: flags['allow-unsigned'],
          allowExpired: flags['allow-expired'],
          egressProbes: flags['egress-probe'],
          egressTimeoutMs: flags['egress-timeout'] * 1000,
          smoke: flags.smoke,
          freePorts: flags['free-port'],
          secretFiles: flags['secret-file'],
        },
        suites: flags.suite as SuiteName[] | undefined,
        failOn: flags['fail-on'] as 'fail' | 'warn',
        concurrency: flags.concurrency,
        junit: flags.junit,
        requireInputs: flags['allow-empty']
          ? undefined
          : {
              fix: 'name what to check (--bundle, --registry, --ollama-store, --ollama, --database-url, --embedded-database, --secret-file, --free-port, --egress-probe), or pass --allow-empty',
            },
        reporter,
      }),
    );
    // A pipe or a file gets every reason whole: only a terminal's width cuts them.
    for (const line of reportTable(report, process.stdout.isTTY ? (process.stdout.columns ?? 120) : Infinity))
      this.say(line);
    if (report.recorded?.error) process.stderr.write(`warning: results ${report.recorded.error}\n`);
    else if (report.recorded) this.say(`recorded as validation report ${report.recorded.validationReportId}`);
    if (report.junit) this.say(`JUnit report: ${report.junit}`);
    if (report.exitCode !== ValidateExit.ok) {
      if (this.jsonEnabled()) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      this.exit(report.exitCode);
    }
    return report;
  }
}
