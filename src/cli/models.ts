/**
 * What every `kubechat models` command shares: the node flags (--ollama URL, --ollama-store DIR,
 * both repeatable: one per GPU node), opening and closing the nodes, and the mixed outcome — some
 * nodes done, some failed — which prints the result and exits 50 (all failed: the first node's
 * own error and exit code).
 */
import { Flags } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { KubechatCommand } from './command.js';
import { ExitCode, KubechatError, specError, type ExitCodeName } from '../lib/errors.js';
import { setLoaded, type ChangeResult, type NodeError } from '../services/models.js';
import { ModelRecords } from '../models/records.js';
import { ApiNode, StoreNode, type ModelNode } from '../models/nodes.js';

export const nodeFlags = {
  ollama: Flags.string({
    summary: 'Ollama server of a GPU node, http://HOST:11434 (repeatable: one per node).',
    multiple: true,
  }),
  'ollama-store': Flags.string({
    summary: 'Ollama models directory (OLLAMA_MODELS) of a node (repeatable).',
    multiple: true,
    env: 'KUBECHAT_OLLAMA_STORE',
  }),
  'ollama-ca': Flags.string({
    summary: 'PEM CA certificate(s) the --ollama servers’ TLS certificates chain to (an https:// server).',
    description: 'Trusted beside the system roots, e.g. the local CA’s root (kubechat ca export).',
    env: 'KUBECHAT_OLLAMA_CA',
  }),
};

type NodeFlags = { ollama?: string[]; 'ollama-store'?: string[]; 'ollama-ca'?: string };

export abstract class ModelsCommand extends KubechatCommand {
  #open: ModelNode[] = [];

  /** The nodes the flags name; at least one unless `optional`. */
  protected nodes(flags: NodeFlags, optional = false): ModelNode[] {
    const ca = flags['ollama-ca'] && flags.ollama?.length ? [readCa(flags['ollama-ca'])] : [];
    const nodes: ModelNode[] = [
      ...(flags['ollama-store'] ?? []).map((d) => new StoreNode(resolve(d))),
      ...(flags.ollama ?? []).map((u) => new ApiNode(u, ca)),
    ];
    if (nodes.length === 0 && !optional)
      throw specError(
        'no node given',
        'name each GPU node with --ollama http://HOST:11434 or --ollama-store DIR',
      );
    this.#open.push(...nodes);
    return nodes;
  }

  /** load / unload (keep_alive 0): every node, or only --node. */
  protected async changeLoaded(
    model: string,
    flags: NodeFlags & { node?: string; 'database-url'?: string },
    keepAlive: string | number,
  ): Promise<ChangeResult> {
    let nodes = this.nodes(flags);
    if (flags.node) {
      const only = new ApiNode(flags.node);
      nodes = nodes.filter((n) => n.id === only.id);
      await only.close();
      if (nodes.length === 0)
        throw specError(`--node ${flags.node}: not one of the --ollama nodes`, `add --ollama ${flags.node}`);
    }
    const r = await setLoaded(nodes, model, keepAlive);
    const unload = keepAlive === 0 || keepAlive === '0';
    if (flags['database-url']) {
      const records = await ModelRecords.open(flags['database-url']);
      try {
        for (const n of r.nodes)
          for (const m of n.models) if (n.ok) await records.setStatus(m, unload ? 'available' : 'loaded');
      } finally {
        await records.close();
      }
    }
    for (const n of r.nodes) {
      if (n.error) this.say(`${n.node}: FAILED (${n.error.message})`);
      else if (n.absent) this.say(`${n.node}: no ${model} here`);
      else
        for (const s of n.detail.state as Array<{ model: string; loaded: boolean; expiresAt: string | null }>)
          this.say(`${n.node}: ${s.model} ${s.loaded ? `loaded until ${s.expiresAt ?? '?'}` : 'unloaded'}`);
    }
    return this.settle(r, nodes.length);
  }

  protected override async finally(err: Error | undefined): Promise<unknown> {
    await Promise.allSettled(this.#open.map((n) => n.close()));
    return super.finally(err);
  }

  /**
   * Some nodes failed: each is named on stderr; the result still goes out (stdout under --json) and
   * the exit code is 50. Every node failed: the first failure is the command's error.
   */
  protected settle<T extends { failed: NodeError[] }>(result: T, attempted: number): T {
    if (result.failed.length === 0) return result;
    if (result.failed.length >= attempted) {
      const f = result.failed[0]!;
      const kind = (f.kind in ExitCode ? f.kind : 'modelsPartial') as ExitCodeName;
      throw new KubechatError(
        kind,
        `${f.message}${result.failed.length > 1 ? ` (and ${result.failed.length - 1} more node(s))` : ''}`,
        f.fix ?? undefined,
      );
    }
    for (const f of result.failed)
      process.stderr.write(`error: ${f.node}: ${f.message}\n${f.fix ? `fix: ${f.fix}\n` : ''}`);
    process.stderr.write(`${result.failed.length} of ${attempted} node(s) failed; the others are done\n`);
    if (this.jsonEnabled()) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return this.exit(ExitCode.modelsPartial);
  }
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw specError(
      `--ollama-ca ${file}: cannot read (${(err as Error).message})`,
      'pass the CA certificate PEM file',
    );
  }
}
