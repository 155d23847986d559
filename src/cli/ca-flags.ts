/** Flags the `ca` commands share (and install --issue-certs). */
import { Flags } from '@oclif/core';
import { CA_DIR_ENV } from '../pki/store.js';

export const caDirFlag = {
  dir: Flags.string({
    summary: 'CA directory (default: $KUBECHAT_CA_DIR, else $KUBECHAT_HOME/ca).',
    env: CA_DIR_ENV,
  }),
};
