import { KubechatCommand } from '../../cli/command.js';
import { trustDirFlag } from '../../cli/trust-flags.js';
import { EXIT_CODES_HELP } from '../../lib/errors.js';
import { defaultTrustDir, readTrustDir, TRUST_DIR_ENV } from '../../signing/trust.js';

export interface KeysListResult {
  trustDir: string;
  keys: Array<{ keyId: string; file: string }>;
}

export default class KeysList extends KubechatCommand {
  static override summary = 'List the trusted public keys (the trust directory).';
  static override description = `Every *.pub in the trust directory (--trust-dir, else ${TRUST_DIR_ENV}, else
$XDG_CONFIG_HOME/kubechat/trust, else ~/.config/kubechat/trust) with its key id. A file that is not a
valid key, or a directory writable by other users, is an error rather than skipped.

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> keys list', '<%= config.bin %> keys list --json'];

  static override flags = {
    ...trustDirFlag,
  };

  async run(): Promise<KeysListResult> {
    const { flags } = await this.parse(KeysList);
    const trustDir = flags['trust-dir'] ?? defaultTrustDir();
    const keys = (await readTrustDir(trustDir)).map((k) => ({ keyId: k.keyId, file: k.source }));
    this.say(`${keys.length} trusted key(s) in ${trustDir}`);
    for (const k of keys) this.say(`  ${k.keyId}  ${k.file}`);
    return { trustDir, keys };
  }
}
