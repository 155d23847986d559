/**
 * Private chart repositories and Helm's repository aliases, against a static chart repository on
 * loopback that requires basic auth (as ChartMuseum, Harbor or Nexus do): credentials from
 * `--registry-auth` or from Helm's repositories.yaml, `@alias` dependencies resolved from that file,
 * and the password never shown.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubechat, sh } from '../support/cli.js';
import { vendoredCharts, writeChart } from '../support/chart-fixture.js';
import { startStaticServer } from '../support/registry-proxy.js';
import { makeCertificates } from '../support/registry.js';
import { writeSpec } from '../support/workspace.js';
import { packageChart } from '../../src/sources/chart-package.js';
import { aliasName, loadHelmRepositories, repositoryForUrl } from '../../src/sources/helm-repositories.js';

const PASSWORD = 's3cret-Chart-pass';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let dir: string;
let repo: Awaited<ReturnType<typeof startStaticServer>>;
let helmConfig: string;

const spec = (name: string, body: string) => writeSpec(dir, name, body);

/** bundle create with a Helm config of our choosing (never the machine's own). */
function create(file: string, env: Record<string, string> = {}, ...extra: string[]) {
  return kubechat(
    [
      'bundle',
      'create',
      '-f',
      file,
      '-o',
      join(dir, 'out'),
      '--cache-dir',
      join(dir, 'cache', file),
      ...extra,
    ],
    { env: { HELM_REPOSITORY_CONFIG: join(dir, 'no-such-repositories.yaml'), ...env } },
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubechat-chart-auth-'));
  const chartDir = await writeChart(join(dir, 'src', 'web'), {
    name: 'web',
    version: '0.3.0',
    appVersion: '1.0',
  });
  const tgz = (await packageChart(chartDir, 'web')).tgz;
  await mkdir(join(dir, 'repo', 'stable'), { recursive: true });
  await writeFile(join(dir, 'repo', 'stable', 'web-0.3.0.tgz'), tgz);
  await writeFile(
    join(dir, 'repo', 'stable', 'index.yaml'),
    dump({
      apiVersion: 'v1',
      entries: { web: [{ name: 'web', version: '0.3.0', digest: sha(tgz), urls: ['web-0.3.0.tgz'] }] },
    }),
  );
  repo = await startStaticServer(join(dir, 'repo'), { basicAuth: { username: 'robot', password: PASSWORD } });
  helmConfig = join(dir, 'helm', 'repositories.yaml');
  await mkdir(join(dir, 'helm'), { recursive: true });
  await writeFile(
    helmConfig,
    dump({
      apiVersion: '',
      generated: '2026-11-01T00:00:00Z',
      repositories: [
        { name: 'private', url: `${repo.url}/stable`, username: 'robot', password: PASSWORD },
        { name: 'public', url: 'https://charts.example.invalid' },
      ],
    }),
  );
  // An umbrella chart whose dependency names the repository by its Helm alias.
  await writeChart(join(dir, 'umbrella'), { name: 'umbrella', version: '1.0.0', files: {} });
  await writeFile(
    join(dir, 'umbrella', 'Chart.yaml'),
    dump({
      apiVersion: 'v2',
      name: 'umbrella',
      version: '1.0.0',
      dependencies: [{ name: 'web', version: '~0.3.0', repository: '@private' }],
    }),
  );
  await writeChart(join(dir, 'lost'), { name: 'lost', version: '1.0.0', files: {} });
  await writeFile(
    join(dir, 'lost', 'Chart.yaml'),
    dump({
      apiVersion: 'v2',
      name: 'lost',
      version: '1.0.0',
      dependencies: [{ name: 'web', version: '0.3.0', repository: 'alias:nowhere' }],
    }),
  );
}, 60_000);

afterAll(async () => {
  await repo?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('a chart repository that requires basic auth', () => {
  it('without credentials: exit 11, and the fix names --registry-auth and helm repo add', async () => {
    const file = await spec(
      'anon',
      `  charts:\n    - {name: web, repo: "${repo.url}/stable", version: 0.3.0}\n`,
    );
    const r = await create(file);
    expect(r.code, r.stderr).toBe(11);
    expect(r.stderr).toMatch(/wants credentials \(HTTP 401\)/);
    expect(r.stderr).toContain(`--registry-auth ${new URL(repo.url).host}=USER:PASSWORD_ENV_VAR`);
  });

  it('with --registry-auth HOST=USER:ENV: the chart is bundled; the password is in no output', async () => {
    const file = await spec(
      'flag',
      `  charts:\n    - {name: web, repo: "${repo.url}/stable", version: 0.3.0}\n`,
    );
    const host = new URL(repo.url).host;
    const r = await create(
      file,
      { CHART_PASS: PASSWORD },
      '--registry-auth',
      `${host}=robot:CHART_PASS`,
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bundle: string };
    const list = await sh(`zstd -dc '${out.bundle}' | tar -t`);
    expect(list.code).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('with a wrong password: exit 11 naming where the credentials came from, without the password', async () => {
    const file = await spec(
      'wrong',
      `  charts:\n    - {name: web, repo: "${repo.url}/stable", version: 0.3.0}\n`,
    );
    const host = new URL(repo.url).host;
    const r = await create(
      file,
      { CHART_PASS: 'not-it-at-all' },
      '--registry-auth',
      `${host}=robot:CHART_PASS`,
    );
    expect(r.code).toBe(11);
    expect(r.stderr).toContain('refused the credentials from --registry-auth');
    expect(r.stderr).not.toContain('not-it-at-all');
  });

  it("with the repository in Helm's repositories.yaml: its credentials are used, nothing else needed", async () => {
    const file = await spec(
      'helm',
      `  charts:\n    - {name: web, repo: "${repo.url}/stable", version: 0.3.0}\n`,
    );
    const before = repo.authorizations.length;
    const r = await create(file, { HELM_REPOSITORY_CONFIG: helmConfig });
    expect(r.code, r.stderr).toBe(0);
    const sent = repo.authorizations.slice(before);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((a) => a === `Basic ${Buffer.from(`robot:${PASSWORD}`).toString('base64')}`)).toBe(
      true,
    );
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });
});

describe('Helm repository aliases in Chart.yaml dependencies', () => {
  it('"@private" is resolved from repositories.yaml and the dependency is vendored with its credentials', async () => {
    const file = await spec('alias', `  charts:\n    - {path: ${join(dir, 'umbrella')}}\n`);
    const r = await create(file, { HELM_REPOSITORY_CONFIG: helmConfig }, '--json');
    expect(r.code, r.stderr).toBe(0);
    const { bundle } = JSON.parse(r.stdout) as { bundle: string };
    // The chart layer (gzip tar) of the umbrella chart holds the vendored dependency.
    expect(await vendoredCharts(bundle, join(dir, 'x-alias'), 'umbrella')).toEqual([
      'umbrella/charts/web-0.3.0.tgz',
    ]);
  });

  it('an alias Helm does not know: exit 18 naming the file and the fix', async () => {
    const file = await spec('lost', `  charts:\n    - {path: ${join(dir, 'lost')}}\n`);
    const r = await create(file, { HELM_REPOSITORY_CONFIG: helmConfig });
    expect(r.code).toBe(18);
    expect(r.stderr).toContain(
      `repository alias "alias:nowhere" is not in ${helmConfig} (it has: private, public)`,
    );
    expect(r.stderr).toContain('helm repo add nowhere URL');
  });
});

describe('a chart repository on HTTPS with a private CA', () => {
  let tlsRepo: Awaited<ReturnType<typeof startStaticServer>>;
  let ca: string;
  beforeAll(async () => {
    await mkdir(join(dir, 'certs-dir'), { recursive: true });
    const certs = await makeCertificates(join(dir, 'certs-dir'));
    ca = certs.ca;
    tlsRepo = await startStaticServer(join(dir, 'repo'), { tls: { cert: certs.cert, key: certs.key } });
  });
  afterAll(() => tlsRepo?.stop());

  it('is refused with exit 10 and a fix naming --registry-ca until the CA is given', async () => {
    const file = await spec(
      'tls',
      `  charts:\n    - {name: web, repo: "${tlsRepo.url}/stable", version: 0.3.0}\n`,
    );
    const refused = await create(file);
    expect(refused.code).toBe(10);
    expect(refused.stderr).toMatch(/TLS verification of 127\.0\.0\.1:\d+ failed/);
    expect(refused.stderr).toContain('--registry-ca FILE');
    const ok = await create(file, {}, '--registry-ca', ca);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("trusts the repository's caFile from Helm's repositories.yaml", async () => {
    const config = join(dir, 'helm', 'tls-repositories.yaml');
    await writeFile(
      config,
      dump({ repositories: [{ name: 'tls', url: `${tlsRepo.url}/stable`, caFile: ca }] }),
    );
    const file = await spec(
      'tls-helm',
      `  charts:\n    - {name: web, repo: "${tlsRepo.url}/stable", version: 0.3.0}\n`,
    );
    const r = await create(file, { HELM_REPOSITORY_CONFIG: config });
    expect(r.code, r.stderr).toBe(0);
  });
});

describe('helm-repositories rules', () => {
  it('credentials apply under the repository URL only, unless pass_credentials_all', () => {
    const repos = [
      { name: 'a', url: 'https://charts.example.com/a', passCredentialsAll: false },
      { name: 'b', url: 'https://charts.example.com/b', passCredentialsAll: true },
    ];
    expect(repositoryForUrl(repos, 'https://charts.example.com/a/index.yaml')?.name).toBe('a');
    expect(repositoryForUrl(repos, 'https://charts.example.com/ab/index.yaml')?.name).toBe('b');
    expect(repositoryForUrl([repos[0]!], 'https://charts.example.com/other/x.tgz')).toBeUndefined();
    expect(repositoryForUrl(repos, 'https://elsewhere.example.com/a/index.yaml')).toBeUndefined();
  });

  it('aliases are @name or alias:name; a missing file means no repositories; a broken one is an error', async () => {
    expect(aliasName('@stable')).toBe('stable');
    expect(aliasName('alias:stable')).toBe('stable');
    expect(aliasName('https://x')).toBeUndefined();
    expect(loadHelmRepositories({ HELM_REPOSITORY_CONFIG: join(dir, 'absent.yaml') })).toEqual([]);
    const broken = join(dir, 'broken.yaml');
    await writeFile(broken, 'repositories: {not: [a list');
    expect(() => loadHelmRepositories({ HELM_REPOSITORY_CONFIG: broken })).toThrow(
      /broken\.yaml: not valid YAML/,
    );
  });
});
