import { Flags } from '@oclif/core';
import { KubechatCommand } from '../../cli/command.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { exportCa, type ExportResult } from '../../pki/export.js';
import { caDirFlag } from '../../cli/ca-flags.js';
import { defaultCaDir } from '../../pki/store.js';

export default class CaExport extends KubechatCommand {
  static override summary = 'Export the trust bundle (PEM, ConfigMap) or TLS Secrets for the cluster.';
  static override description = `--format pem writes OUT/kubechat-ca.pem, the root certificate every client should trust. --format k8s-configmap writes OUT/kubechat-ca.configmap.yaml, a ConfigMap kubechat-ca with ca.crt. --format k8s-secret writes one kubernetes.io/tls Secret per certificate (NAME-tls.secret.yaml with tls.crt, tls.key and ca.crt; mode 0600, since it holds the key) for every active certificate or the --name ones. kubectl apply -f takes the YAML. Existing files are not replaced without --force.

${EXIT_CODES_HELP}`;

  static override examples = [
    '<%= config.bin %> ca export --format pem --out /srv/trust',
    '<%= config.bin %> ca export --format k8s-secret --name registry --namespace kubechat --out manifests/',
  ];

  static override flags = {
    ...caDirFlag,
    format: Flags.string({
      summary: 'What to write.',
      options: ['pem', 'k8s-secret', 'k8s-configmap'],
      default: 'pem',
    }),
    out: Flags.string({ summary: 'Directory to write into.', default: '.' }),
    name: Flags.string({ summary: 'k8s-secret: only these certificates.', multiple: true }),
    namespace: Flags.string({ summary: 'Namespace of the Kubernetes objects.', default: 'kubechat' }),
    force: Flags.boolean({ summary: 'Replace existing files.' }),
  };

  async run(): Promise<ExportResult> {
    const { flags } = await this.parse(CaExport);
    const r = await exportCa({
      dir: flags.dir ?? defaultCaDir(),
      format: flags.format as 'pem' | 'k8s-secret' | 'k8s-configmap',
      out: flags.out,
      names: flags.name ?? [],
      namespace: flags.namespace,
      force: flags.force,
    });
    for (const f of r.files) this.say(`${f.kind.padEnd(12)} ${f.name.padEnd(24)} ${f.path}`);
    return r;
  }
}
