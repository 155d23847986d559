/**
 * createBundle with the clients a command would make (default registry settings), opened for the
 * call and closed after it: tests that do not care which clients pull get the real ones.
 */
import {
  createBundle as createBundleWith,
  type CreateBundleOptions,
  type CreateBundleResult,
} from '../../src/services/create-bundle.js';
import { openSourceClients } from '../../src/sources/clients.js';

export async function createBundle(
  options: Omit<CreateBundleOptions, 'clients'> & Partial<Pick<CreateBundleOptions, 'clients'>>,
): Promise<CreateBundleResult> {
  if (options.clients) return createBundleWith({ ...options, clients: options.clients });
  const clients = openSourceClients();
  try {
    return await createBundleWith({ ...options, clients });
  } finally {
    await clients.close();
  }
}
