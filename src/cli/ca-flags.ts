/** Flags the `ca` commands share (and install --issue-certs). */
import { Flags } from '@oclif/core';
import { DATABASE_URL_ENV } from '../db/env.js';
import { CA_DIR_ENV } from '../pki/store.js';

export const caDirFlag = {
  dir: Flags.string({
    summary: 'CA directory (default: $KUBECHAT_CA_DIR, else $KUBECHAT_HOME/ca).',
    env: CA_DIR_ENV,
  }),
};

export const caDatabaseFlag = {
  'database-url': Flags.string({
    summary:
      'Also record the certificates in this PostgreSQL database (airgap_certificates, local_certificates).',
    description: 'Without it (or KUBECHAT_DATABASE_URL) the CA directory is the only record.',
    env: DATABASE_URL_ENV,
  }),
};
