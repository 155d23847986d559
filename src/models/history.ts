/**
 * Versions of a served model on one node. Every import writes an immutable version tag
 * (<tag>-<12 hex>) beside the serving tag; the serving tag is an alias of one of them. Which one is
 * read from the digests (/api/copy and our atomic manifest writes keep manifests byte for byte), so
 * the history needs no state of its own and survives anything that happens to the node.
 */
import { modelsError } from '../lib/errors.js';
import { hasTag, parseModelName, repoOf, shortName, splitVersionTag } from '../ollama/names.js';
import type { NodeModel } from './nodes.js';

export interface ModelVersion {
  /** The version tag's display name: assist:1.0-0123456789ab */
  name: string;
  tag: string;
  digest: string;
  /** When it was imported (the version tag is written once). */
  importedAt: string;
  /** Whether the serving tag points at it now. */
  current: boolean;
}

export const isVersionTag = (m: NodeModel) => splitVersionTag(m.parts.tag) !== undefined;

/** Version tags of `serving`, oldest first. */
export function versionsOf(models: NodeModel[], serving: NodeModel): ModelVersion[] {
  const repo = repoOf(serving.parts);
  return models
    .filter((m) => repoOf(m.parts) === repo && splitVersionTag(m.parts.tag)?.serving === serving.parts.tag)
    .map((m) => ({
      name: m.display,
      tag: m.parts.tag,
      digest: m.digest,
      importedAt: m.modifiedAt,
      current: m.digest === serving.digest,
    }))
    .sort((a, b) => a.importedAt.localeCompare(b.importedAt) || a.tag.localeCompare(b.tag));
}

/**
 * The serving models a user's name selects on a node: NAME:TAG exactly, or every serving tag of NAME.
 * Version tags are selected only when spelled out.
 */
export function selectModels(models: NodeModel[], text: string): NodeModel[] {
  const n = parseModelName(text);
  if (!n)
    throw modelsError(
      'modelNotFound',
      `"${text}" is not a model name`,
      'write it as NAME[:TAG], e.g. assist:1.0',
    );
  if (hasTag(text)) return models.filter((m) => m.name === `${repoOf(n)}:${n.tag}`);
  return models.filter((m) => repoOf(m.parts) === repoOf(n) && !isVersionTag(m));
}

/**
 * Like selectModels, and when NAME:TAG has no serving tag left (removed) but has version tags, a
 * stand-in for it (digest ''), so history still lists them and rollback --to can restore it.
 */
export function selectServing(models: NodeModel[], text: string): NodeModel[] {
  const found = selectModels(models, text);
  if (found.length > 0 || !hasTag(text)) return found;
  const n = parseModelName(text)!;
  const standIn: NodeModel = {
    name: `${repoOf(n)}:${n.tag}`,
    display: shortName(n),
    parts: n,
    digest: '',
    size: 0,
    modifiedAt: '',
  };
  return versionsOf(models, standIn).length > 0 ? [standIn] : [];
}

/** The version a rollback moves the serving tag to: --to (tag, 12-hex or a unique prefix), else the one before the current. */
export function rollbackTarget(versions: ModelVersion[], serving: NodeModel, to?: string): ModelVersion {
  const listed = versions.map((v) => v.tag).join(', ') || 'none';
  if (to !== undefined) {
    const wanted = to.includes(':') ? to.slice(to.lastIndexOf(':') + 1) : to;
    const hits = versions.filter(
      (v) =>
        v.tag === wanted ||
        v.tag === `${serving.parts.tag}-${wanted}` ||
        (wanted.length >= 4 && splitVersionTag(v.tag)?.short.startsWith(wanted)),
    );
    if (hits.length !== 1)
      throw modelsError(
        'modelVersion',
        `${serving.display}: ${hits.length ? 'several versions match' : 'no version matches'} "${to}" (versions: ${listed})`,
        `pick one with kubechat models history ${serving.display}`,
      );
    return hits[0]!;
  }
  const current = versions.findLastIndex((v) => v.current);
  if (current < 0 && serving.digest === '')
    throw modelsError(
      'modelVersion',
      `${serving.display}: the serving tag is gone (versions: ${listed})`,
      `restore it with {flag:to} VERSION (see kubechat models history ${serving.display})`,
    );
  if (current <= 0)
    throw modelsError(
      'modelVersion',
      `${serving.display}: no version before the current one (versions: ${listed})`,
      `import the version you want first, or name one with {flag:to}`,
    );
  return versions[current - 1]!;
}
