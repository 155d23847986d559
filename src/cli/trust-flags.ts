/**
 * The trust and policy flags, built once: `bundle verify` spreads `trustFlags`; `install` and every
 * command that loads a bundle into a target spread `policyFlags` and pass them to
 * `enforceBundlePolicy` (policy.ts) with the keys from `loadTrustedKeys` (trust.ts).
 */
import { Flags } from '@oclif/core';
import { TRUST_DIR_ENV } from '../signing/trust.js';

/** The trust directory alone: `keys list` and `keys trust` read and write it. */
export const trustDirFlag = {
  'trust-dir': Flags.string({
    summary: 'Trust directory of *.pub keys (default ~/.config/kubechat/trust).',
    env: TRUST_DIR_ENV,
  }),
};

export const trustFlags = {
  'trusted-key': Flags.string({
    summary: 'A trusted public key (.pub); repeatable. Adds to the keys in the trust directory.',
    multiple: true,
  }),
  ...trustDirFlag,
};

export const policyFlags = {
  ...trustFlags,
  'allow-unsigned': Flags.boolean({
    summary:
      'Accept an unsigned bundle (printed as a warning and recorded). A bad signature is never accepted.',
  }),
  'allow-expired': Flags.boolean({
    summary: 'Accept a bundle past its expiry (printed as a warning and recorded).',
  }),
  'allow-downgrade': Flags.boolean({
    summary: 'Install a version older than the highest installed (printed as a warning and recorded).',
  }),
};
