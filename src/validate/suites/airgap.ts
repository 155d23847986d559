/**
 * `airgap`: egress is really blocked. Every probe target must be unreachable: a TCP connection to it
 * must not open (refused, unreachable or timed out all count as blocked), its name must not resolve,
 * and a public resolver must not answer a query. The defaults are well-known public registries and
 * resolvers; `--egress-probe HOST:PORT` (repeatable) replaces them, e.g. with the site's own border
 * hosts. This suite is the only part of kubechat that sends packets towards hosts the operator did
 * not name — the default probes — and only when it runs.
 */
import { lookup } from 'node:dns/promises';
import { Resolver } from 'node:dns/promises';
import { isIP, Socket } from 'node:net';
import type { Suite, ValidationContext } from '../context.js';
import { fail, pass, type Check, type Outcome } from '../types.js';

export const DEFAULT_EGRESS_PROBES = [
  'registry-1.docker.io:443',
  'ghcr.io:443',
  'quay.io:443',
  'registry.k8s.io:443',
  'registry.ollama.ai:443',
  'huggingface.co:443',
  '1.1.1.1:53',
  '8.8.8.8:53',
  '9.9.9.9:53',
];
const DEFAULT_TIMEOUT_MS = 3000;

export interface ProbeTarget {
  host: string;
  port: number;
}

/** `HOST:PORT` or `[IPv6]:PORT`; undefined when malformed. */
export function parseProbe(s: string): ProbeTarget | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(s) ?? /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!, port };
}

const BLOCKED = new Set([
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EADDRNOTAVAIL',
  'EACCES',
  'EPERM',
  'ENETDOWN',
  'EHOSTDOWN',
  'ECONNRESET',
]);
const NO_NAME = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'ENODATA',
  'ESERVFAIL',
  'EREFUSED',
  'ETIMEOUT',
  'ECONNREFUSED',
]);

function tcpProbe(t: ProbeTarget, timeoutMs: number): Promise<Outcome> {
  const label = `${t.host}:${t.port}`;
  return new Promise((done) => {
    const socket = new Socket();
    const finish = (o: Outcome) => {
      socket.destroy();
      done(o);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(pass(`no connection within ${timeoutMs} ms: blocked`, { data: { result: 'timeout' } })),
    );
    socket.once('connect', () =>
      finish(
        fail(
          `connected to ${label} (${socket.remoteAddress ?? '?'}): egress to it is open`,
          `block outbound traffic to ${t.host} at the host firewall and the network border`,
          { data: { result: 'connected', address: socket.remoteAddress ?? null } },
        ),
      ),
    );
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'error';
      if (NO_NAME.has(code) && code !== 'ECONNREFUSED')
        return finish(pass(`${t.host} does not resolve (${code}): blocked`, { data: { result: code } }));
      if (BLOCKED.has(code)) return finish(pass(`connection ${code}: blocked`, { data: { result: code } }));
      finish(pass(`connection failed (${code}): blocked`, { data: { result: code } }));
    });
    socket.connect({ host: t.host, port: t.port });
  });
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The system resolver (getaddrinfo: /etc/hosts, then the configured DNS servers). */
async function dnsProbe(host: string, timeoutMs: number): Promise<Outcome> {
  try {
    const r = await withTimeout(lookup(host, { all: true }), timeoutMs);
    if (r === 'timeout') return pass(`lookup of ${host} timed out after ${timeoutMs} ms: blocked`);
    const addresses = r.map((a) => a.address);
    return fail(
      `${host} resolves to ${addresses.slice(0, 3).join(', ')}: names outside the air gap resolve`,
      'point the hosts at an internal resolver that does not forward public names (and check /etc/hosts)',
      { data: { addresses } },
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return pass(`${host} does not resolve (${code})`, { data: { result: code } });
  }
}

/** A query sent straight to a resolver (UDP, one try): an answer means DNS leaves the host. */
async function resolverProbe(server: ProbeTarget, name: string, timeoutMs: number): Promise<Outcome> {
  const resolver = new Resolver({ timeout: timeoutMs, tries: 1 });
  resolver.setServers([
    isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`,
  ]);
  try {
    const r = await withTimeout(resolver.resolve4(name), timeoutMs + 500);
    if (r === 'timeout') return pass(`no answer from ${server.host} within ${timeoutMs} ms: blocked`);
    return fail(
      `${server.host} answered a query for ${name} (${r.slice(0, 2).join(', ')}): DNS egress is open`,
      `block outbound DNS (UDP/TCP 53) to ${server.host}`,
      { data: { addresses: r } },
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return pass(`no answer from ${server.host} (${code}): blocked`, { data: { result: code } });
  } finally {
    resolver.cancel();
  }
}

export function airgapChecks(ctx: ValidationContext): Check[] {
  const timeout = ctx.inputs.egressTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const targets = (ctx.inputs.egressProbes ?? DEFAULT_EGRESS_PROBES).map((p) => {
    const t = parseProbe(p);
    if (!t) throw new Error(`internal: unparsed egress probe ${p}`);
    return t;
  });
  const names = [...new Set(targets.filter((t) => isIP(t.host) === 0).map((t) => t.host))];
  const checks: Check[] = targets.map((t) => ({
    name: `tcp ${t.host}:${t.port}`,
    run: () => tcpProbe(t, timeout),
  }));
  for (const n of names) checks.push({ name: `dns ${n}`, run: () => dnsProbe(n, timeout) });
  // A resolver on an address (port 53) is also asked a question directly.
  const question = names[0] ?? 'registry-1.docker.io';
  for (const t of targets.filter((x) => isIP(x.host) !== 0 && x.port === 53))
    checks.push({ name: `resolver ${t.host}`, run: () => resolverProbe(t, question, timeout) });
  return checks;
}

export const airgapSuite: Suite = {
  name: 'airgap',
  // Probing public hosts is the one thing in kubechat that sends packets towards hosts the operator
  // did not name: only when asked for by name, or towards the operator's own --egress-probe targets.
  missing: (inputs, named) =>
    named || inputs.egressProbes?.length
      ? undefined
      : 'its default probes reach for public hosts: run it by name (--suite airgap) or give --egress-probe HOST:PORT',
  checks: (ctx) => Promise.resolve(airgapChecks(ctx)),
};
