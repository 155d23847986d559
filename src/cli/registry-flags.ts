/** How to reach a registry: the flags `install` and `validate` share. */
import { Flags } from '@oclif/core';

export const registryAccessFlags = {
  'registry-ca': Flags.string({
    summary: 'PEM CA certificate(s) the registry’s TLS certificate chains to.',
  }),
  'registry-auth': Flags.string({
    summary: 'Registry credentials as HOST=USER:PASSWORD_ENV_VAR (the password is read from that variable).',
    multiple: true,
  }),
  'insecure-registry': Flags.boolean({
    summary: 'Allow plain HTTP or an unverified certificate for --registry (loopback hosts need no flag).',
  }),
};
