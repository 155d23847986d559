/**
 * `--database-url`, defined once with one meaning for every command that has it: the PostgreSQL
 * database to use. What a command does without it differs (the embedded server, no database, the CA
 * directory only): each command says so in its description, with one of the sentences below.
 */
import { Flags } from '@oclif/core';
import { DATABASE_URL_ENV } from '../db/env.js';

export const databaseFlags = {
  'database-url': Flags.string({
    summary: 'The PostgreSQL database to use: postgres://USER:PASSWORD@HOST:PORT/DATABASE.',
    helpValue: 'URL',
    env: DATABASE_URL_ENV,
  }),
};

/** What the db and admin commands do without --database-url. */
export const EMBEDDED_DATABASE_DEFAULT = `Without --database-url (or ${DATABASE_URL_ENV}), kubechat starts its embedded PostgreSQL under $KUBECHAT_HOME/postgres on a free loopback port and stops it when the command ends.`;

/** What the ca commands that write certificates do without --database-url. */
export const CA_DATABASE_DEFAULT = `With --database-url (or ${DATABASE_URL_ENV}) the certificates are also recorded there (airgap_certificates, local_certificates); without it the CA directory is the only record.`;

/** What the models commands that change a node do without --database-url. */
export const MODELS_DATABASE_DEFAULT = `Without --database-url (or ${DATABASE_URL_ENV}), nothing is recorded in a database.`;

export const bundleMigrationsFlag = {
  bundle: Flags.string({
    summary: 'Use the migrations a bundle carries (files/migrations/) instead of this kubechat’s own.',
  }),
};
