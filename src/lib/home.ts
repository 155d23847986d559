/** $KUBECHAT_HOME: where kubechat keeps state on a host (the embedded PostgreSQL, …). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const HOME_ENV = 'KUBECHAT_HOME';

/** root's default: a system directory the embedded server's `postgres` user can traverse. */
export const ROOT_HOME = '/var/lib/kubechat';

/**
 * $KUBECHAT_HOME, else (as root) /var/lib/kubechat, else $XDG_DATA_HOME/kubechat, else
 * ~/.local/share/kubechat. root's home (/root, 0700) cannot be entered by the `postgres` user the
 * embedded server runs as, so root keeps its state where a system service would.
 */
export function kubechatHome(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
): string {
  if (env[HOME_ENV]) return resolve(env[HOME_ENV]);
  if (uid === 0) return ROOT_HOME;
  if (env.XDG_DATA_HOME) return join(resolve(env.XDG_DATA_HOME), 'kubechat');
  return join(homedir(), '.local', 'share', 'kubechat');
}
