/** The content cache directory: `bundle create` fills it, `cache ls` and `cache prune` read it. */
import { Flags } from '@oclif/core';

export const cacheDirFlag = {
  'cache-dir': Flags.string({
    summary: 'Content cache directory.',
    env: 'KUBECHAT_CACHE_DIR',
    description: 'Default: $XDG_CACHE_HOME/kubechat, else ~/.cache/kubechat.',
  }),
};
