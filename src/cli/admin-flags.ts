/** Flags the `admin` commands share. */
import { Flags } from '@oclif/core';

export const passwordInputFlags = {
  'password-file': Flags.string({
    summary: 'Read the password from this file (one trailing newline ignored).',
    exclusive: ['password-stdin'],
  }),
  'password-stdin': Flags.boolean({
    summary: 'Read the password from standard input.',
    exclusive: ['password-file'],
  }),
};
