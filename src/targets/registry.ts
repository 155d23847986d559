import { targetError } from '../lib/errors.js';
import type { BlobTarget } from './types.js';

export interface RegistryTargetOptions {
  registry: string;
  prefix?: string;
  caFile?: string;
  username?: string;
  password?: string;
}

export function registryTarget(options: RegistryTargetOptions): Promise<BlobTarget> {
  return Promise.reject(
    targetError(`--registry ${options.registry}: pushing to a registry is not built yet`),
  );
}
