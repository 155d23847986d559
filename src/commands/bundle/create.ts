import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { cacheDirFlag } from '../../cli/cache-flags.js';
import { registryAccessFlags } from '../../cli/registry-flags.js';
import { EXIT_CODES_HELP, specError } from '../../lib/errors.js';
import { formatBytes } from '../../lib/progress.js';
import { parseSplitSize } from '../../bundle/split.js';
import { defaultCompressOptions } from '../../bundle/zstd.js';
import { createBundle, type CreateBundleResult } from '../../services/create-bundle.js';
import { parseRegistryAuthFlag } from '../../oci/registry-credentials.js';
import { openSourceClients } from '../../sources/clients.js';
import { readFile } from 'node:fs/promises';
import { loadSigningKey, PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, readPassphrase } from '../../signing/keys.js';

export default class BundleCreate extends KubechatCommand {
  static override summary = 'Create a bundle from a spec file (bundles/*.yaml).';
  static override description = `Reads the images, charts, models and files a spec names from local sources and writes
DIR/<name>-<version>.kcb.tar.zst: a pax tar of the bundle entries, zstd-compressed as independent frames
with a seek table. With --base, writes a delta (<name>-<version>.delta-<base>.kcb.tar.zst) that lists
content already in the base instead of storing it. Every input is read once.

Bundles are reproducible: with SOURCE_DATE_EPOCH set (seconds since 1970, as reproducible-builds.org
defines it) as the creation time, the same spec and inputs give a byte-identical bundle on any machine.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> bundle create -f bundles/demo.yaml -o out',
    '<%= config.bin %> bundle create -f bundles/demo.yaml -o out --base out/demo-1.0.0.kcb.tar.zst',
    '<%= config.bin %> bundle create -f bundles/demo.yaml -o /media/usb --split fat32 --json',
    '<%= config.bin %> bundle create -f bundles/demo.yaml -o /media/usb --split dvd --dry-run',
    'KUBECHAT_KEY_PASSPHRASE=… <%= config.bin %> bundle create -f bundles/demo.yaml -o out --key release.key --expires 365d',
  ];

  static override flags = {
    file: Flags.string({ char: 'f', summary: 'Bundle spec file.', required: true, env: 'KUBECHAT_SPEC' }),
    output: Flags.string({ char: 'o', summary: 'Output directory.', default: '.', env: 'KUBECHAT_OUTPUT' }),
    base: Flags.string({ summary: 'Earlier bundle of the same name: write a delta against it.' }),
    split: Flags.string({ summary: 'Cut the bundle into parts: fat32, dvd, bd or a size (700M, 4GiB).' }),
    'all-platforms': Flags.boolean({ summary: 'Keep every platform of multi-platform images.' }),
    level: Flags.integer({ summary: 'zstd compression level (1-19).', default: 3, min: 1, max: 19 }),
    threads: Flags.integer({
      summary: 'zstd worker threads (default: CPU count, at most 8).',
      min: 1,
      max: 64,
    }),
    key: Flags.string({
      summary: `Sign with this private key (from kubechat keys generate; passphrase in ${PASSPHRASE_ENV} or ${PASSPHRASE_FILE_ENV}).`,
      env: 'KUBECHAT_SIGNING_KEY',
    }),
    expires: Flags.string({
      summary:
        'Expiry, recorded in the manifest and the signature: a duration (365d, 12h, 2w, 1y) or a date (2027-01-31).',
    }),
    'dry-run': Flags.boolean({
      summary: 'Plan and size the bundle (and its parts) without writing anything.',
      description:
        'Lists every artifact with its digest, size and what the cache holds, and the images charts declare. ' +
        'Fetches manifests and metadata only, never a layer or model blob.',
    }),
    ...registryAccessFlags,
    ...cacheDirFlag,
    concurrency: Flags.integer({ summary: 'Blobs downloading at once.', default: 6, min: 1, max: 64 }),
    'add-chart-images': Flags.boolean({
      summary: 'Also pull the images charts declare (helm.sh/images annotation, values.yaml image fields).',
    }),
  };

  async run(): Promise<CreateBundleResult> {
    const { flags } = await this.parse(BundleCreate);
    const splitSize = flags.split === undefined ? undefined : parseSplitSize(flags.split);
    const now = sourceDateEpoch(process.env.SOURCE_DATE_EPOCH);
    const credentials = new Map((flags['registry-auth'] ?? []).map((v) => parseRegistryAuthFlag(v)));
    const ca = flags['registry-ca'] === undefined ? undefined : await readCa(flags['registry-ca']);
    // Unlock the key first: a wrong passphrase should fail before minutes of work.
    const signingKey = flags.key ? await loadSigningKey(flags.key, await readPassphrase()) : undefined;
    const clients = openSourceClients({
      insecure: flags['insecure-registry'] ?? [],
      credentials,
      ...(ca ? { ca } : {}),
    });
    const result = await this.progress(`Creating bundle from ${flags.file}`, (reporter) =>
      createBundle({
        signingKey,
        expires: flags.expires,
        specPath: flags.file,
        outDir: flags.output,
        basePath: flags.base,
        splitSize,
        allPlatforms: flags['all-platforms'],
        compress: { level: flags.level, workers: flags.threads ?? defaultCompressOptions().workers },
        now,
        dryRun: flags['dry-run'],
        reporter,
        cacheDir: flags['cache-dir'],
        concurrency: flags.concurrency,
        addChartImages: flags['add-chart-images'],
        clients,
      }),
    ).finally(async () => {
      signingKey?.dispose();
      await clients.close();
    });
    const what = `${result.delta ? 'Delta bundle' : 'Bundle'} ${result.name} ${result.version}`;
    this.say(result.dryRun ? `${what} (dry run: nothing written)` : what);
    if (result.dryRun) {
      this.say(`  would write ${result.bundle}`);
      for (const l of result.plan) {
        const state = l.cached
          ? 'cached'
          : l.cachedBytes > 0
            ? `${formatBytes(l.size - l.cachedBytes)} to pull`
            : l.source.includes('://')
              ? 'to pull'
              : 'local';
        this.say(
          `  ${l.kind.padEnd(5)} ${l.ref}  ${l.digest ?? '(digest when read)'}  ${formatBytes(l.size)}  ${state}`,
        );
      }
    }
    for (const f of result.files) this.say(`  ${f}`);
    const a = result.artifacts;
    this.say(`  ${a.images} images, ${a.charts} charts, ${a.models} models, ${a.files} files`);
    const size = `${result.dryRun ? 'at most ' : ''}${formatBytes(result.bundleBytes)}`;
    this.say(
      `  content ${formatBytes(result.content.all)}, stored ${formatBytes(result.content.stored)}, bundle ${size} (${result.seconds.toFixed(1)} s)`,
    );
    if (result.parts > 0) this.say(`  ${result.dryRun ? 'at most ' : ''}${result.parts} parts`);
    if (result.delta) {
      this.say(
        `  ${result.entries.fromBase} of ${result.entries.total} entries come from base ${result.delta.base.name} ${result.delta.base.version}`,
      );
    }
    if (result.manifestDigest) this.say(`  manifest ${result.manifestDigest}`);
    const missing = result.chartImages.filter((c) => !c.inBundle);
    if (result.dryRun) {
      for (const c of missing) this.say(`  chart ${c.chart} uses ${c.image}: not in the bundle`);
    }
    if (missing.length > 0) {
      this.say(
        `  ${missing.length} images the charts use are not in the bundle: --add-chart-images adds them`,
      );
    }
    const p = result.pull;
    if (result.dryRun) {
      const toPull = result.plan.reduce(
        (n, l) => n + (l.source.includes('://') ? l.size - l.cachedBytes : 0),
        0,
      );
      this.say(`  to pull ${formatBytes(toPull)}, already cached ${formatBytes(p.cachedBytes)}`);
    } else if (p.downloadedBytes + p.cachedBytes + p.chartRepoBytes > 0) {
      this.say(
        `  pulled ${formatBytes(p.downloadedBytes + p.chartRepoBytes)}, from cache ${formatBytes(p.cachedBytes)}, ` +
          `dedup saved ${formatBytes(result.dedupSavedBytes)}, compressed ${formatBytes(result.bundleBytes)}`,
      );
    }
    const signer = `${result.dryRun ? 'would be signed' : 'signed'} by key ${result.signedBy}`;
    this.say(`  signed    ${result.signedBy ? signer : 'no (unsigned: pass --key to sign)'}`);
    if (result.expires) this.say(`  expires   ${result.expires}`);
    return result;
  }
}

async function readCa(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw specError(
      `--registry-ca ${path}: cannot read (${(err as Error).message})`,
      'pass a PEM file of CA certificates',
    );
  }
}

/** SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/) as the creation time. */
function sourceDateEpoch(value: string | undefined): Date | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^\d+$/.test(value)) {
    throw specError(
      `SOURCE_DATE_EPOCH=${value} is not a whole number of seconds`,
      'set it to e.g. $(git log -1 --format=%ct)',
    );
  }
  return new Date(Number(value) * 1000);
}
