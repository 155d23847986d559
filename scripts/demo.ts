/**
 * `npm run demo`: the main job end to end on embedded defaults, with no cluster and no network.
 *
 *   1. writes the demo's generated sources (an OCI image layout, a small GGUF model) to bundles/demo-sources/;
 *   2. generates a DEMO-ONLY signing key without a passphrase under out/ (kept for later runs);
 *   3. creates the signed bundle out/demo-1.0.0.kcb.tar.zst (reproducible: SOURCE_DATE_EPOCH is the
 *      commit time, so a re-run makes the same bundle) and verifies it with that key;
 *   4. installs it, trusting only that key, into an OCI image layout (out/registry), an Ollama store
 *      (out/ollama) and a files directory (out/files), recorded in the embedded PostgreSQL
 *      ($KUBECHAT_HOME/postgres, started for the install and stopped after it); install runs the
 *      preflight suite before and the registry/models/database suites after;
 *   5. lists the installed model with its version history (kubechat models list);
 *   6. validates the installation with every suite that has inputs, with a JUnit report in out/;
 *   7. mints a local CA in out/ca (DEMO-ONLY passphrase) and issues the registry's certificate;
 *   8. creates the built-in admin user, its password written to out/DEMO-admin-password (0600).
 *
 * A second run is a fast no-op: the same bundle, already installed; the CA and the admin user are kept.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeDemoSources } from '../test/support/demo-sources.js';
import { kubechatHome } from '../src/lib/home.js';
import { defaultStateDir } from '../src/targets/journal.js';

const root = process.cwd();
const out = resolve(root, 'out');
const key = join(out, 'DEMO-ONLY-signing');
const bundle = join(out, 'demo-1.0.0.kcb.tar.zst');
const bin = join(root, 'bin', 'run.js');

function commitTime(): string {
  try {
    return execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '1767225600'; // 2026-01-01: any fixed time keeps the bundle reproducible
  }
}

const caDir = join(out, 'ca');
const adminPassword = join(out, 'DEMO-admin-password');

const env: NodeJS.ProcessEnv = {
  ...process.env,
  SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? commitTime(),
  KUBECHAT_STATE_DIR: process.env.KUBECHAT_STATE_DIR ?? join(out, 'state'),
  // DEMO ONLY, like the signing key: a real CA's passphrase comes from a secret store, never a script.
  KUBECHAT_CA_PASSPHRASE: 'DEMO-ONLY-ca-passphrase',
};

/** Runs one kubechat command; `alsoOk` lists exit codes that mean "already done" for this step. */
function step(title: string, args: string[], alsoOk: number[] = []) {
  process.stderr.write(`\n==> ${title}\n$ kubechat ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, env, stdio: 'inherit' });
  if (r.status !== 0 && !alsoOk.includes(r.status ?? -1)) {
    process.stderr.write(
      `\nnpm run demo: "kubechat ${args[0]} ${args[1] ?? ''}" failed (exit ${r.status})\n`,
    );
    process.exit(r.status ?? 1);
  }
}

await mkdir(out, { recursive: true });
process.stderr.write('==> Writing the demo sources (image layout, GGUF model)\n');
await writeDemoSources(resolve(root, 'bundles', 'demo-sources'));

if (!existsSync(`${key}.key`))
  step('Generating a DEMO-ONLY signing key (no passphrase: never use it for real bundles)', [
    'keys',
    'generate',
    '--out',
    key,
    '--no-passphrase',
  ]);
step('Creating the signed demo bundle', [
  'bundle',
  'create',
  '-f',
  'bundles/demo.yaml',
  '-o',
  'out',
  '--key',
  `${key}.key`,
]);
step('Verifying it with the demo key', ['bundle', 'verify', bundle, '--trusted-key', `${key}.pub`]);
step('Installing it (embedded PostgreSQL; no cluster, no network)', [
  'install',
  bundle,
  '--registry',
  'oci:out/registry',
  '--ollama-store',
  'out/ollama',
  '--files-dir',
  'out/files',
  '--trusted-key',
  `${key}.pub`,
  '--embedded-database',
]);

step('Listing the installed model and its versions', ['models', 'list', '--ollama-store', 'out/ollama']);
step('Validating the installation (every suite with inputs; JUnit report for CI)', [
  'validate',
  '--bundle',
  bundle,
  '--trusted-key',
  `${key}.pub`,
  '--registry',
  'oci:out/registry',
  '--ollama-store',
  'out/ollama',
  '--files-dir',
  'out/files',
  '--embedded-database',
  '--junit',
  'out/validate-junit.xml',
]);
if (!existsSync(join(caDir, 'ca.json')))
  step('Minting the local CA (DEMO-ONLY passphrase)', [
    'ca',
    'init',
    '--dir',
    caDir,
    '--domains',
    'cluster.local,localhost',
    '--ips',
    '127.0.0.0/8',
  ]);
if (!existsSync(join(caDir, 'certs', 'registry.crt')))
  step("Issuing the registry's TLS certificate", [
    'ca',
    'issue',
    'registry',
    '--dir',
    caDir,
    '--dns',
    'localhost',
    '--ip',
    '127.0.0.1',
  ]);
step('Listing the certificates', ['ca', 'list', '--dir', caDir]);
// An earlier run made it (its password is in the file from then). Exit 68 too: the user exists in
// the embedded database although out/ was removed; its password is then only in that earlier file.
if (!existsSync(adminPassword))
  step(
    'Creating the built-in admin user (password into a 0600 file, never on screen)',
    ['admin', 'init', '--password-file', adminPassword],
    [68],
  );

const home = kubechatHome();
process.stderr.write(`
Demo done. Where everything went:
  bundle            ${bundle}
  demo signing key  ${key}.key / ${key}.pub (DEMO ONLY, no passphrase)
  images, chart     ${join(out, 'registry')} (OCI image layout: skopeo inspect oci:out/registry:docker.io/kubechat/hello:1.0)
  model             ${join(out, 'ollama')} (OLLAMA_MODELS=${join(out, 'ollama')} ollama run assist:1.0)
  docs, migrations  ${join(out, 'files')}
  database          embedded PostgreSQL in ${join(home, 'postgres')} (kubechat db status)
  validation        ${join(out, 'validate-junit.xml')} (JUnit; also recorded in validation_reports)
  local CA          ${caDir} (root.pem, intermediate.pem, certs/registry.crt; passphrase DEMO ONLY)
  admin password    ${adminPassword} (0600; kubechat admin check-policy)
  install state     ${env.KUBECHAT_STATE_DIR ?? defaultStateDir()}
Run "npm run demo" again: the same bundle, already installed, is a no-op; the checks run again.
`);
