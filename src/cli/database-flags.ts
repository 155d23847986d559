/** Flags every `kubechat db` command (and install) shares. */
import { Flags } from '@oclif/core';
import { DATABASE_URL_ENV } from '../db/env.js';

export const databaseFlags = {
  'database-url': Flags.string({
    summary: 'PostgreSQL URL, postgres://USER:PASSWORD@HOST:PORT/DATABASE (default: the embedded server).',
    description:
      'Without it, kubechat starts its embedded PostgreSQL under $KUBECHAT_HOME/postgres on a free loopback port and stops it when the command ends.',
    env: DATABASE_URL_ENV,
  }),
};

export const bundleMigrationsFlag = {
  bundle: Flags.string({
    summary: 'Use the migrations a bundle carries (files/migrations/) instead of this kubechat’s own.',
  }),
};
