/**
 * The network clients the connected side reaches remote sources with: a registry client (images,
 * OCI charts, Ollama models) and plain HTTP (Helm chart repositories). Whoever makes them closes
 * them; a service that pulls receives them, so a test can hand in its own.
 */
import { RegistryClient, type RegistryClientOptions } from '../oci/registry-client.js';
import type { HttpGetter } from './chart-repo.js';
import { loadHelmRepositories, type HelmRepository } from './helm-repositories.js';
import { HttpClient } from './http-get.js';

export interface SourceClients {
  registry: RegistryClient;
  /** Chart repositories; `bytes` is what it received, for the summary. */
  http: HttpGetter & { readonly bytes: number };
  /** Helm's repositories.yaml (for `@alias` chart dependencies), read on first need. */
  helmRepositories: () => HelmRepository[];
}

/**
 * Clients for `registry` settings (insecure hosts, explicit credentials, CA): chart repositories get
 * the same trust and credentials as registries, plus Helm's own.
 */
export function openSourceClients(
  registry: RegistryClientOptions = {},
): SourceClients & { close(): Promise<void> } {
  let helmRepos: HelmRepository[] | undefined;
  const helmRepositories = () => (helmRepos ??= loadHelmRepositories(registry.env));
  const client = new RegistryClient(registry);
  const http = new HttpClient({
    insecure: registry.insecure,
    ca: registry.ca,
    credentials: registry.credentials,
    helmRepositories,
  });
  return {
    registry: client,
    http,
    helmRepositories,
    async close() {
      await client.close();
      await http.close();
    },
  };
}
