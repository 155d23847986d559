/**
 * A real CNCF distribution registry (Debian package `docker-registry`) on a free loopback port,
 * with its own temp storage: plain HTTP, htpasswd basic auth and/or TLS. Also a throwaway CA and
 * server certificate made with `openssl`, for TLS tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { sh } from './cli.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
/** What to run when htpasswd is missing: the exact line scripts/system-deps.sh prints. */
export const HTPASSWD_FIX =
  'sudo apt-get install -y apache2-utils (or run bash scripts/system-deps.sh as root)';

/** A port the kernel just handed out on 127.0.0.1 (free unless someone races us for it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface TestCertificates {
  dir: string;
  /** CA certificate (PEM file). */
  ca: string;
  caKey: string;
  /** Server certificate for 127.0.0.1 and localhost, signed by the CA. */
  cert: string;
  key: string;
}

/** A CA and a server certificate for `hosts` (default 127.0.0.1 and localhost), valid one day. */
export async function makeCertificates(
  dir?: string,
  hosts: string[] = ['127.0.0.1', 'localhost'],
): Promise<TestCertificates> {
  const d = dir ?? (await mkdtemp(join(tmpdir(), 'kubechat-certs-')));
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  await writeFile(
    join(d, 'ext.cnf'),
    `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`,
  );
  const script = [
    'set -e',
    'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 1 -subj "/CN=kubechat test CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null',
    'openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1" 2>/dev/null',
    'openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 1 -extfile ext.cnf 2>/dev/null',
  ].join('\n');
  const r = await sh(script, d);
  if (r.code !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return {
    dir: d,
    ca: join(d, 'ca.pem'),
    caKey: join(d, 'ca.key'),
    cert: join(d, 'server.pem'),
    key: join(d, 'server.key'),
  };
}

export interface RegistryOptions {
  /** Require htpasswd basic auth with this user. */
  auth?: { username: string; password: string };
  /** Serve TLS with this certificate and key. */
  tls?: { cert: string; key: string };
  /** Storage root (default: a new temp dir, removed on stop). */
  storage?: string;
  /** Allow DELETE of manifests and blobs. */
  deletes?: boolean;
}

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234 */
  host: string;
  port: number;
  url: string;
  storage: string;
  process: ChildProcess;
  /** Output of the registry so far (for test failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Every registry this process started and has not stopped. A test that starts several at once
 * (`Promise.all`) and fails on one never learns of the others; they are killed when the test
 * process exits, so a failing suite leaves no docker-registry behind.
 */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** The pids of the registries this process started and has not stopped. */
export function runningRegistries(): number[] {
  return [...running].map((child) => child.pid!);
}

/** Stops every registry still running (test/support/setup.ts runs it after each test file). */
export async function stopAllRegistries(): Promise<void> {
  await Promise.all(
    [...running].map((child) => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    }),
  );
}

/** Starts docker-registry and waits until `/v2/` answers. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'kubechat-registry-'));
  const storage = options.storage ?? join(work, 'storage');
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log: {level: warn, accesslog: {disabled: true}}',
    'storage:',
    `  filesystem: {rootdirectory: "${storage}"}`,
    `  delete: {enabled: ${options.deletes ? 'true' : 'false'}}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: kubechat-test-secret',
  ];
  if (options.tls) lines.push(`  tls: {certificate: "${options.tls.cert}", key: "${options.tls.key}"}`);
  if (options.auth) {
    if ((await sh('command -v htpasswd')).code !== 0) {
      await rm(work, { recursive: true, force: true });
      throw new Error(`htpasswd is not installed: ${HTPASSWD_FIX}`);
    }
    const htpasswd = join(work, 'htpasswd');
    const r = await sh(
      `htpasswd -Bbn ${JSON.stringify(options.auth.username)} ${JSON.stringify(options.auth.password)} > ${JSON.stringify(htpasswd)}`,
    );
    if (r.code !== 0) throw new Error(`htpasswd failed: ${r.stderr}`);
    lines.push('auth:', `  htpasswd: {realm: kubechat-test, path: "${htpasswd}"}`);
  }
  const config = join(work, 'config.yml');
  await writeFile(config, lines.join('\n') + '\n');
  const child = spawn(REGISTRY_BIN, ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(work, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${output}`);
    try {
      const res = await request(`${url}/v2/`, {
        // The test CA is not in Node's store; readiness only needs the socket to answer.
        dispatcher: options.tls ? insecureDispatcher() : undefined,
      });
      await res.body.dump();
      if (res.statusCode === 200 || res.statusCode === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry did not start: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    url,
    storage,
    process: child,
    log: () => output,
    stop,
  };
}

let insecure: Agent | undefined;
function insecureDispatcher(): Agent {
  insecure ??= new Agent({ connect: { rejectUnauthorized: false } });
  return insecure;
}
