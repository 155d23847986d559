/** Runs `kubechat registry serve … --json` as a user would and waits for its one JSON line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export interface ServeInfo {
  address: string;
  url: string;
  tls: boolean;
  auth: { kind: 'none' } | { kind: 'basic'; users: number };
  source: { path: string; kind: string; name?: string; version?: string; parts?: number };
  tags: Array<{ repository: string; tag: string; digest: string }>;
  warnings: string[];
}

export interface RunningServe {
  info: ServeInfo;
  /** The raw stdout line. */
  line: string;
  child: ChildProcess;
  /** Sends `signal` and resolves with the exit code and all output. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Starts the server; resolves once it says it listens. Without `json`, `info` holds only the address
 * and url parsed from the human "listening on URL" line.
 */
export function startServe(
  args: string[],
  options: { json?: boolean; signed?: boolean } = {},
): Promise<RunningServe> {
  const json = options.json ?? true;
  // Test bundles are unsigned unless the test says otherwise; the trust policy has its own tests.
  if (!options.signed && !args[0]?.startsWith('oci:')) args = [...args, '--allow-unsigned'];
  const child = spawn(
    process.execPath,
    [join(ROOT, 'bin', 'run.js'), 'registry', 'serve', ...args, ...(json ? ['--json'] : [])],
    {
      cwd: ROOT,
      env: { ...process.env, CI: '1', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const nl = stdout.indexOf('\n');
      if (nl < 0) return;
      const line = stdout.slice(0, nl);
      try {
        const url = /^listening on (https?:\/\/(\S+))/.exec(line);
        const info: ServeInfo = json
          ? (JSON.parse(line) as ServeInfo)
          : {
              address: url![2]!,
              url: url![1]!,
              tls: false,
              auth: { kind: 'none' },
              source: { path: '', kind: '' },
              tags: [],
              warnings: [],
            };
        resolve({
          info,
          line,
          child,
          stop: async (signal = 'SIGTERM') => {
            child.kill(signal);
            const code = await exited;
            return { code, stdout, stderr };
          },
        });
      } catch (err) {
        reject(new Error(`registry serve printed ${line}: ${(err as Error).message}`));
      }
    });
    void exited.then((code) => reject(new Error(`registry serve exited ${code}: ${stdout}${stderr}`)));
  });
}
