/** $KUBECHAT_HOME: where kubechat keeps state on a host (the embedded PostgreSQL, …). */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const HOME_ENV = 'KUBECHAT_HOME';

/** $KUBECHAT_HOME, else $XDG_DATA_HOME/kubechat, else ~/.local/share/kubechat. */
export function kubechatHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env[HOME_ENV]) return resolve(env[HOME_ENV]);
  if (env.XDG_DATA_HOME) return join(resolve(env.XDG_DATA_HOME), 'kubechat');
  return join(homedir(), '.local', 'share', 'kubechat');
}
