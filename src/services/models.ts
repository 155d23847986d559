/**
 * `kubechat models`: the lifecycle of models across GPU nodes (models.ts in src/models/ does the
 * per-node work). Every operation runs on every node given, concurrently; a node that fails (down,
 * refusing) is reported and the others proceed — the caller turns a mixed outcome into exit 50.
 */
import { KubechatError, modelsError } from '../lib/errors.js';
import {
  isVersionTag,
  rollbackTarget,
  selectModels,
  selectServing,
  versionsOf,
  type ModelVersion,
} from '../models/history.js';
import { parseModelName } from '../ollama/names.js';
import type { LoadedModel, ModelNode, NodeModel } from '../models/nodes.js';
import { estimateVram, type VramEstimate } from '../models/vram.js';

export interface NodeError {
  node: string;
  kind: string;
  exitCode: number;
  message: string;
  fix: string | null;
}

export function nodeError(node: ModelNode, err: unknown): NodeError {
  const k = err instanceof KubechatError ? err : undefined;
  return {
    node: node.label,
    kind: k?.kind ?? 'internal',
    exitCode: k?.exitCode ?? 1,
    message: err instanceof Error ? err.message : String(err),
    fix: k?.fix ?? null,
  };
}

/** Runs `fn` on every node at once; a failure is kept per node, never thrown. */
export async function eachNode<T>(
  nodes: ModelNode[],
  fn: (node: ModelNode) => Promise<T>,
): Promise<Array<{ node: ModelNode; value?: T; error?: NodeError }>> {
  return Promise.all(
    nodes.map(async (node) => {
      try {
        return { node, value: await fn(node) };
      } catch (err) {
        return { node, error: nodeError(node, err) };
      }
    }),
  );
}

export interface ListedModel {
  name: string;
  fullName: string;
  tag: string;
  digest: string;
  size: number;
  modifiedAt: string;
  family: string | null;
  parameterSize: string | null;
  quantization: string | null;
  contextLength: number | null;
  vram: VramEstimate | null;
  /** Why the details are missing (a corrupt GGUF header, /api/show refused). */
  detailsError: string | null;
  /** null: a models directory cannot know. */
  loaded: boolean | null;
  expiresAt: string | null;
  sizeVram: number | null;
  versions: ModelVersion[];
}

export interface NodeListing {
  node: string;
  kind: 'store' | 'api';
  ok: boolean;
  error: NodeError | null;
  models: ListedModel[];
}

export interface ListResult {
  nodes: NodeListing[];
  failed: NodeError[];
}

async function listNode(
  node: ModelNode,
  filter: string[] | undefined,
  context?: number,
): Promise<ListedModel[]> {
  const [models, loaded] = await Promise.all([node.list(), node.loaded()]);
  const serving = filter
    ? [...new Set(filter.flatMap((f) => selectModels(models, f)))]
    : models.filter((m) => !isVersionTag(m) || !hasServingTag(models, m));
  const byName = new Map((loaded ?? []).map((l) => [l.name, l] as [string, LoadedModel]));
  return Promise.all(
    serving.map(async (m): Promise<ListedModel> => {
      let details: Awaited<ReturnType<ModelNode['details']>> | undefined;
      let detailsError: string | null = null;
      try {
        details = await node.details(m);
      } catch (err) {
        detailsError = (err as Error).message;
      }
      const l = byName.get(m.name);
      return {
        name: m.display,
        fullName: m.name,
        tag: m.parts.tag,
        digest: m.digest,
        size: m.size,
        modifiedAt: m.modifiedAt,
        family: details?.family ?? null,
        parameterSize: details?.parameterSize ?? null,
        quantization: details?.quantization ?? null,
        contextLength: details?.shape.contextLength ?? null,
        vram: details ? estimateVram(details.shape, details.weightsBytes, context ?? details.numCtx) : null,
        detailsError,
        loaded: loaded === null ? null : l !== undefined,
        expiresAt: l?.expiresAt ?? null,
        sizeVram: l?.sizeVram ?? null,
        versions: versionsOf(models, m),
      };
    }),
  );
}

/** Whether a version tag's serving tag is still there (else the listing shows the version itself). */
const hasServingTag = (models: NodeModel[], v: NodeModel) =>
  models.some((m) => !isVersionTag(m) && versionsOf([v], m).length > 0);

/** Enough of NodeModel for selectModels over a listing. */
const asNodeModels = (models: ListedModel[]): NodeModel[] =>
  models.map((m) => ({
    name: m.fullName,
    display: m.name,
    parts: parseModelName(m.fullName)!,
    digest: m.digest,
    size: m.size,
    modifiedAt: m.modifiedAt,
  }));

/** Names given that no node holds: "unknown model" (exit 51) rather than an empty answer. */
function checkKnown(names: string[] | undefined, found: (name: string) => boolean): void {
  for (const n of names ?? []) {
    if (!parseModelName(n))
      throw modelsError('modelNotFound', `"${n}" is not a model name`, 'write it as NAME[:TAG]');
    if (!found(n))
      throw modelsError(
        'modelNotFound',
        `no node holds a model named ${n}`,
        'see what is there with kubechat models list',
      );
  }
}

export async function listModels(
  nodes: ModelNode[],
  opts: { names?: string[]; context?: number } = {},
): Promise<ListResult> {
  const runs = await eachNode(nodes, async (node) => {
    const listed = await listNode(node, opts.names, opts.context);
    return listed;
  });
  const result: ListResult = {
    nodes: runs.map((r) => ({
      node: r.node.label,
      kind: r.node.kind,
      ok: !r.error,
      error: r.error ?? null,
      models: r.value ?? [],
    })),
    failed: runs.flatMap((r) => (r.error ? [r.error] : [])),
  };
  if (result.failed.length < nodes.length)
    checkKnown(opts.names, (n) =>
      result.nodes.some((x) => x.models.length > 0 && selectModels(asNodeModels(x.models), n).length > 0),
    );
  return result;
}

/** One change on one node (remove, rollback, load, unload). */
export interface NodeChange {
  node: string;
  ok: boolean;
  /** Nothing to do there: the node does not hold the model. */
  absent: boolean;
  models: string[];
  detail: Record<string, unknown>;
  error: NodeError | null;
}

export interface ChangeResult {
  model: string;
  nodes: NodeChange[];
  failed: NodeError[];
}

/**
 * Runs `change` on every node for the serving models `name` selects there. A node that does not
 * hold the model is `absent`; no node holding it at all is "unknown model" (exit 51).
 */
async function changeEverywhere(
  nodes: ModelNode[],
  name: string,
  change: (node: ModelNode, selected: NodeModel[], all: NodeModel[]) => Promise<Record<string, unknown>>,
  select: (all: NodeModel[]) => NodeModel[] = (all) => selectModels(all, name),
): Promise<ChangeResult> {
  if (!parseModelName(name))
    throw modelsError('modelNotFound', `"${name}" is not a model name`, 'write it as NAME[:TAG]');
  const runs = await eachNode(nodes, async (node) => {
    const all = await node.list();
    const selected = select(all);
    if (selected.length === 0) return { absent: true, models: [] as string[], detail: {} };
    return {
      absent: false,
      models: selected.map((m) => m.display),
      detail: await change(node, selected, all),
    };
  });
  const result: ChangeResult = {
    model: name,
    nodes: runs.map((r) => ({
      node: r.node.label,
      ok: !r.error,
      absent: r.value?.absent ?? false,
      models: r.value?.models ?? [],
      detail: r.value?.detail ?? {},
      error: r.error ?? null,
    })),
    failed: runs.flatMap((r) => (r.error ? [r.error] : [])),
  };
  if (result.failed.length < nodes.length && result.nodes.every((n) => !n.ok || n.absent))
    throw modelsError(
      'modelNotFound',
      `no node holds a model named ${name}`,
      'see what is there with kubechat models list',
    );
  return result;
}

export function removeModel(nodes: ModelNode[], name: string, opts: { allVersions?: boolean } = {}) {
  return changeEverywhere(
    nodes,
    name,
    async (node, selected, all) => {
      // With --all-versions the version tags go too (else their blobs stay referenced, as they should).
      const doomed = opts.allVersions
        ? [...selected, ...selected.flatMap((s) => all.filter((m) => versionsOf([m], s).length > 0))]
        : selected;
      const blobs: string[] = [];
      let serverDecides = false;
      for (const m of doomed) {
        const removed = await node.remove(m);
        if (removed === null) serverDecides = true;
        else blobs.push(...removed);
      }
      return { removed: doomed.map((m) => m.display), blobsRemoved: serverDecides ? null : blobs };
    },
    (all) => selectModels(all, name),
  );
}

export function modelHistory(nodes: ModelNode[], name: string) {
  return changeEverywhere(
    nodes,
    name,
    async (_node, selected, all) => ({
      history: selected.map((s) => ({
        model: s.display,
        digest: s.digest || null,
        versions: versionsOf(all, s),
      })),
    }),
    (all) => selectServing(all, name),
  );
}

export function rollbackModel(nodes: ModelNode[], name: string, opts: { to?: string } = {}) {
  return changeEverywhere(
    nodes,
    name,
    async (node, selected, all) => {
      const moves = [];
      for (const s of selected) {
        const versions = versionsOf(all, s);
        const target = rollbackTarget(versions, s, opts.to);
        const from = versions.find((v) => v.current)?.tag ?? null;
        const version = all.find((m) => m.display === target.name)!;
        await node.copy(version, s.parts);
        moves.push({ model: s.display, from, to: target.tag, digest: target.digest });
      }
      return { moves };
    },
    (all) => selectServing(all, name),
  );
}

export function setLoaded(nodes: ModelNode[], name: string, keepAlive: string | number) {
  const unload = keepAlive === 0 || keepAlive === '0';
  return changeEverywhere(nodes, name, async (node, selected) => {
    if (node.kind !== 'api')
      throw modelsError(
        'modelNodeKind',
        `${node.label}: a models directory cannot ${unload ? 'unload' : 'load'} models`,
        'name the node’s Ollama server with {flag:ollama} URL',
      );
    for (const m of selected) await node.keepAlive(m, keepAlive);
    const ps = (await node.loaded()) ?? [];
    const state = selected.map((m) => {
      const l = ps.find((p) => p.name === m.name);
      return {
        model: m.display,
        loaded: l !== undefined,
        expiresAt: l?.expiresAt ?? null,
        sizeVram: l?.sizeVram ?? null,
      };
    });
    const wrong = state.find((s) => s.loaded === unload);
    if (wrong)
      throw modelsError(
        'modelsPartial',
        `${node.label}: ${wrong.model} is ${unload ? 'still' : 'not'} loaded after the request (/api/ps)`,
        'check the Ollama server log (out of GPU memory?)',
      );
    return { state };
  });
}
