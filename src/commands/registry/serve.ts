import { Args, Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP, ExitCode } from '../../lib/errors.js';
import { DEFAULT_ADDR, serveRegistry, type RegistryServer } from '../../services/serve-registry.js';
import { policyFlags } from '../../cli/trust-flags.js';

const { 'allow-downgrade': _downgrade, ...servePolicyFlags } = policyFlags;

/** The line `--json` prints once listening (schemas/results/registry-serve.schema.json). */
export type ServeResult = Omit<RegistryServer, 'close'>;

export default class RegistryServe extends KubechatCommand {
  static override summary = 'Serve a bundle or OCI layout as a read-only OCI registry.';
  static override description = `Serves the images, charts and models of a bundle (one file or its split parts, read in place through the seek table: nothing is extracted) or of an OCI image layout (oci:DIR) over the OCI distribution API, so nodes can pull during bootstrap before a real registry exists. Read-only: pushes are answered 405 UNSUPPORTED.

Names: docker.io/demo/app:1.0 is pulled as HOST/demo/app:1.0 (also HOST/docker.io/demo/app:1.0), a chart as HOST/charts/<name>:<version>, a model under its Ollama name (HOST/library/<model>:<tag>).

A bundle is served only when it is signed by a trusted key (--trusted-key or the trust directory), is not expired and its manifest is the signed one, exactly as for install; --allow-unsigned and --allow-expired override, with a warning. (An OCI layout carries no signature: it is served as it is.)

Binds loopback unless --addr says otherwise. Without --htpasswd there is no authentication; with it every request needs basic auth from the file's bcrypt entries (htpasswd -B, as docker-registry), and an address other than loopback then needs TLS. Prints the address once listening (with --json: one JSON line) and stops cleanly on Ctrl-C or SIGTERM (exit 0). Exits ${ExitCode.serveAddress} when it cannot listen, ${ExitCode.serveTls} for a bad TLS certificate or key, ${ExitCode.serveAuth} for an unusable --htpasswd file or basic auth without TLS off loopback, ${ExitCode.serveContent} when the bundle cannot be served in place (a delta, or recompressed without a seek table).

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> registry serve out/demo-1.0.0.kcb.tar.zst',
    '<%= config.bin %> registry serve /media/usb/demo-1.0.0.kcb.tar.zst.parts.json --addr 0.0.0.0:5000',
    '<%= config.bin %> registry serve oci:/srv/images --addr 10.0.0.5:5443 --tls-cert reg.pem --tls-key reg.key',
    '<%= config.bin %> registry serve bundle.kcb.tar.zst --addr 0.0.0.0:5443 --tls-cert reg.pem --tls-key reg.key --htpasswd /etc/kubechat/htpasswd',
  ];

  static override args = {
    source: Args.string({
      description: 'Bundle file, first part or parts file; or oci:DIR for an OCI image layout.',
      required: true,
    }),
  };
  static override flags = {
    addr: Flags.string({
      summary: 'HOST:PORT to listen on (port 0: any free port).',
      default: DEFAULT_ADDR,
      env: 'KUBECHAT_REGISTRY_ADDR',
    }),
    'tls-cert': Flags.string({
      summary: 'PEM certificate (chain) to serve HTTPS with.',
      dependsOn: ['tls-key'],
    }),
    'tls-key': Flags.string({ summary: 'PEM private key of --tls-cert.', dependsOn: ['tls-cert'] }),
    htpasswd: Flags.string({
      summary:
        'Require basic auth: an htpasswd file of bcrypt entries (htpasswd -B), as docker-registry reads.',
    }),
    ...servePolicyFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(RegistryServe);
    const tlsCert = flags['tls-cert'];
    const tlsKey = flags['tls-key'];
    const server = await serveRegistry({
      source: args.source,
      addr: flags.addr,
      tls: tlsCert && tlsKey ? { certPath: tlsCert, keyPath: tlsKey } : undefined,
      ...(flags.htpasswd ? { htpasswd: flags.htpasswd } : {}),
      trust: {
        keyFiles: flags['trusted-key'],
        trustDir: flags['trust-dir'],
        allowUnsigned: flags['allow-unsigned'],
        allowExpired: flags['allow-expired'],
      },
      onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
      onStreamError: (err, what) =>
        process.stderr.write(`warning: serving ${what} failed: ${(err as Error).message.split('\n')[0]}\n`),
    });
    const stopped = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    const { close, ...result } = server;
    for (const w of server.warnings) process.stderr.write(`warning: ${w}\n`);
    if (this.jsonEnabled()) {
      process.stdout.write(JSON.stringify(result satisfies ServeResult) + '\n');
    } else {
      const what =
        result.source.kind === 'bundle' ? `${result.source.name} ${result.source.version}` : args.source;
      const auth = result.auth.kind === 'basic' ? `, basic auth for ${result.auth.users} user(s)` : '';
      this.say(`listening on ${server.url} (${what}, read-only${auth})`);
      for (const t of server.tags) this.say(`  ${server.address}/${t.repository}:${t.tag}  ${t.digest}`);
    }
    const signal = await stopped;
    process.stderr.write(`${signal}: stopping\n`);
    await close();
  }
}
