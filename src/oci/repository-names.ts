/**
 * Where an artifact of a bundle lives in a registry kubechat serves or pushes to. The bundle's
 * index.json names each root by `org.opencontainers.image.ref.name` (docs/bundle-format.md):
 *
 *   image  docker.io/demo/app:1.0                   → demo/app:1.0
 *   image  docker.io/library/nginx:1.27             → library/nginx:1.27
 *   image  ghcr.io/org/tool:2                       → org/tool:2
 *   chart  charts/kubechat:0.1.0                    → charts/kubechat:0.1.0
 *   model  registry.ollama.ai/library/assist:1.0    → library/assist:1.0  (its Ollama name)
 *
 * The primary name drops the source registry's host, which is what a containerd `hosts.toml` mirror
 * asks for (`/v2/demo/app/manifests/1.0?ns=docker.io`) and what `ollama pull HOST/library/assist:1.0`
 * asks for. Because two registries can hold the same path, every artifact is also reachable under
 * its qualified name, `<registry>/<path>` (`docker.io/demo/app:1.0`), which a per-registry mirror
 * (`HOST/docker.io` for docker.io, `HOST/ghcr.io` for ghcr.io) uses and which never collides.
 * A registry host with a port (`localhost:5000/x`) is not a valid path component, so such refs have
 * no qualified name, nor do charts (kubechat names them). A plain OCI layout written by skopeo names its roots by tag only (`1.0`); those
 * are served under `fallbackRepository`.
 */
import { parseReference } from './reference.js';

export interface RepositoryName {
  /** Repository path without the source registry: demo/app */
  repository: string;
  tag: string;
  /** The same repository prefixed by its source registry (docker.io/demo/app), when that is a valid path. */
  qualified: string | undefined;
}

const TAG_RE = /^[\w][\w.-]{0,127}$/;
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** True for a repository name the distribution spec accepts (`a/b-c/d.e`). */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name.split('/').every((c) => PATH_COMPONENT_RE.test(c));
}

/**
 * The registry name of a root named `refName` in an OCI index, or undefined when `refName` is
 * neither a reference with a tag nor a bare tag (then the root is not served by name).
 */
export function repositoryNameOf(
  refName: string,
  options: { kind?: string; fallbackRepository?: string } = {},
): RepositoryName | undefined {
  const { fallbackRepository } = options;
  if (!refName.includes('/') && !refName.includes(':') && TAG_RE.test(refName)) {
    return fallbackRepository === undefined
      ? undefined
      : { repository: fallbackRepository, tag: refName, qualified: undefined };
  }
  let ref;
  try {
    ref = parseReference(refName);
  } catch {
    return undefined;
  }
  if (ref.tag === undefined) return undefined;
  const host = ref.registry.toLowerCase();
  // Charts are named charts/<name> by kubechat itself: they come from no registry.
  const qualified =
    options.kind !== 'chart' && PATH_COMPONENT_RE.test(host) ? `${host}/${ref.repository}` : undefined;
  return { repository: ref.repository, tag: ref.tag, qualified };
}

/** A directory's base name as a repository name (`My_Images` → `my_images`), or undefined. */
export function repositoryFromDirName(base: string): string | undefined {
  const name = base
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[._-]+|[._-]+$/g, '');
  return PATH_COMPONENT_RE.test(name) ? name : undefined;
}
