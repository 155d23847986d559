/** Every suite, in the order reports list them. */
import type { Suite } from '../run.js';
import { airgapSuite } from './airgap.js';
import { bundleSuite } from './bundle.js';
import { databaseSuite } from './database.js';
import { modelsSuite } from './models.js';
import { preflightSuite } from './preflight.js';
import { registrySuite } from './registry.js';
import { securitySuite } from './security.js';

export const SUITE_DEFINITIONS: Suite[] = [
  preflightSuite,
  bundleSuite,
  registrySuite,
  modelsSuite,
  databaseSuite,
  securitySuite,
  airgapSuite,
];
