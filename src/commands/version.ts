import { Flags } from '@oclif/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubechatCommand } from '../cli/command.js';
import { EXIT_CODES_HELP } from '../lib/errors.js';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../lib/package-root.js';

/** What `kubechat version --json` prints. */
export interface VersionResult {
  version: string;
  /** The git commit the CLI was built from; null for a build outside a git checkout. */
  commit: string | null;
  /** The build had changes to src/, bin/ or package.json that were not committed. */
  dirty: boolean;
  /** When it was built (SOURCE_DATE_EPOCH for reproducible builds), ISO 8601 UTC. */
  built: string | null;
  node: string;
  /** os-arch, e.g. linux-x64. */
  platform: string;
}

function buildInfo(): Pick<VersionResult, 'commit' | 'dirty' | 'built'> {
  try {
    const info = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'dist', 'build-info.json'), 'utf8')) as {
      commit?: string | null;
      dirty?: boolean;
      built?: string;
    };
    return { commit: info.commit ?? null, dirty: info.dirty === true, built: info.built ?? null };
  } catch {
    return { commit: null, dirty: false, built: null }; // a build without the file: say what we know
  }
}

export function versionInfo(): VersionResult {
  return {
    version: PACKAGE_VERSION,
    ...buildInfo(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** The one line `kubechat --version` prints: oclif's user agent, then the commit and build date. */
export function versionLine(v: VersionResult = versionInfo()): string {
  const commit = v.commit ? `commit ${v.commit.slice(0, 12)}${v.dirty ? '+dirty' : ''}` : 'no commit';
  const built = v.built ? `, built ${v.built.slice(0, 10)}` : '';
  return `kubechat/${v.version} ${v.platform} node-${v.node} (${commit}${built})`;
}

export default class Version extends KubechatCommand {
  static override summary = 'Print the version, commit, build date, Node and platform.';
  static override description = `\`kubechat --version\` prints the same as one line.

${EXIT_CODES_HELP}`;

  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --json'];

  static override flags = {
    short: Flags.boolean({ summary: 'One line, as `kubechat --version` prints it.' }),
  };

  async run(): Promise<VersionResult> {
    const { flags } = await this.parse(Version);
    const v = versionInfo();
    if (flags.short) {
      this.say(versionLine(v));
      return v;
    }
    this.say(`kubechat ${v.version}`);
    this.say(
      `commit    ${v.commit ?? 'unknown (built outside git)'}${v.dirty ? ' (with uncommitted changes)' : ''}`,
    );
    this.say(`built     ${v.built ?? 'unknown'}`);
    this.say(`node      ${v.node}`);
    this.say(`platform  ${v.platform}`);
    return v;
  }
}
