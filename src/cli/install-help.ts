/**
 * `kubechat install`'s help and its own flags (the shared sets are spread from their files): kept
 * beside the other flag sets so the command stays flags → targets → session → render.
 */
import { Flags } from '@oclif/core';
import { EXIT_CODES_HELP } from '../lib/errors.js';
import { databaseFlags } from './database-flags.js';
import { registryAccessFlags } from './registry-flags.js';
import { policyFlags } from './trust-flags.js';

export const INSTALL_DESCRIPTION = `Reads the bundle (or its split parts, in place) once, front to back, checking every blob's sha256 while it streams it to its targets: images and charts to --registry (an OCI registry, or an OCI image layout with oci:DIR), models to --ollama-store and/or every --ollama server, files/ entries to --files-dir. Nothing is extracted to a temporary directory. Manifests and tags are written last.

A journal ($KUBECHAT_STATE_DIR, default ~/.local/state/kubechat/install/) records finished work: an interrupted install run again resumes, and a finished one is a fast no-op.

With --database-url (or KUBECHAT_DATABASE_URL), or --embedded-database (kubechat's own PostgreSQL under $KUBECHAT_HOME/postgres, started for the command and stopped after it), install applies the migrations the bundle carries (files/migrations/), seeds the defaults, records the deployment (airgap_deployments: pending, then installed or failed), one offline_packages row per artifact it installed, local_ai_models and model_catalog rows per model, keeps its resume journal in processing_jobs instead of the state file, and checks rollback against the versions installed in the database as well as the state file. Without either option, install uses no database at all. Install contacts only the targets named on the command line. The bundle must be signed by a trusted key (--trusted-key, or the trust directory): an unsigned, untrusted, tampered or expired bundle, or a version older than one already installed, is refused before any target is touched. --allow-unsigned, --allow-expired and --allow-downgrade override those three, loudly, and are recorded.

${EXIT_CODES_HELP}`;

export const INSTALL_EXAMPLES = [
  '<%= config.bin %> install /media/usb/demo-1.0.0.kcb.tar.zst --registry 127.0.0.1:5000 --ollama-store /var/lib/ollama/models',
  '<%= config.bin %> install demo-1.0.0.kcb.tar.zst.parts.json --registry oci:/srv/images --files-dir /srv/kubechat',
  '<%= config.bin %> install demo-1.0.0.kcb.tar.zst --registry registry.local:5443 --registry-ca ca.pem --ollama http://gpu1:11434 --ollama http://gpu2:11434',
];

export const installFlags = {
  registry: Flags.string({
    summary:
      'Where images and charts go: HOST[:PORT] of an OCI registry, or oci:DIR for an OCI image layout.',
    env: 'KUBECHAT_REGISTRY',
  }),
  'registry-prefix': Flags.string({
    summary: 'Path put before every repository (docker.io/demo/app:1.0 → REGISTRY/PREFIX/demo/app:1.0).',
  }),
  ...registryAccessFlags,
  'ollama-store': Flags.string({
    summary: 'Ollama models directory (OLLAMA_MODELS) to write models into.',
    env: 'KUBECHAT_OLLAMA_STORE',
  }),
  ollama: Flags.string({
    summary: 'Ollama server URL to import models into over its API (repeatable: one per GPU node).',
    multiple: true,
  }),
  'files-dir': Flags.string({
    summary: 'Directory the bundle’s files/ entries (docs, manifests) are written under.',
    env: 'KUBECHAT_FILES_DIR',
  }),
  ...databaseFlags,
  'embedded-database': Flags.boolean({
    summary:
      'Record the install in kubechat’s embedded PostgreSQL ($KUBECHAT_HOME/postgres), started for this command.',
    description:
      'Without --database-url, KUBECHAT_DATABASE_URL or this flag, install records nothing in a database.',
  }),
  ...policyFlags,
  validate: Flags.boolean({
    summary:
      'Run the preflight suite before writing and the registry/models/database suites after (exit 33/34 when they fail); --no-validate skips both.',
    default: true,
    allowNo: true,
  }),
  'issue-certs': Flags.boolean({
    summary:
      'Also issue the registry’s and the Ollama servers’ TLS certificates from the local CA (kubechat ca init first).',
    description:
      'Certificates "registry" (the --registry host) and "ollama" (every --ollama host) under the CA directory’s certs/, checked against the CA before anything is installed and issued once the install succeeded; a valid one with the same names is kept. With --database-url they are recorded there too.',
  }),
  'ca-dir': Flags.string({
    summary: 'CA directory for --issue-certs (default: $KUBECHAT_CA_DIR, else $KUBECHAT_HOME/ca).',
    env: 'KUBECHAT_CA_DIR',
  }),
  concurrency: Flags.integer({ summary: 'Blob writes in flight at once.', default: 6, min: 1, max: 64 }),
  'read-streams': Flags.integer({
    summary:
      'Large blobs read from the bundle at once (seekable bundles): 1 reads strictly front to back, for slow spinning media.',
    default: 2,
    min: 1,
    max: 8,
  }),
};
