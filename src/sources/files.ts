/** `spec.files`: a file or a directory tree copied under files/<target>/ in the bundle. */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { describeFsError, sourceError } from '../lib/errors.js';
import { filePath } from '../bundle/layout.js';
import type { PlannedFile, PlannedFileSet } from '../bundle/plan.js';

export async function planFiles(
  entry: { path: string; target: string },
  specDir: string,
): Promise<PlannedFileSet> {
  const root = resolve(specDir, entry.path);
  const st = await stat(root).catch((err: unknown) => {
    throw (
      describeFsError(err, entry.path, 'read', true) ??
      sourceError(`${entry.path}: cannot read`, undefined, err)
    );
  });
  const files: PlannedFile[] = [];
  if (st.isFile()) {
    const name = root.split(sep).pop()!;
    files.push({ path: filePath(entry.target, name), source: root, size: st.size, mode: modeOf(st.mode) });
  } else if (st.isDirectory()) {
    await walk(root, root, entry.target, files);
  } else {
    throw sourceError(
      `${entry.path}: neither a file nor a directory`,
      'point spec.files[].path at a file or directory',
    );
  }
  return { source: entry.path, target: entry.target, files };
}

async function walk(
  root: string,
  dir: string,
  target: string,
  out: PlannedFile[],
  ancestors: ReadonlySet<string> = new Set(),
): Promise<void> {
  // A directory symlink pointing back up the tree would otherwise recurse forever. (A link to a
  // sibling directory is fine: it is copied twice, as tar -h does.)
  const real = await realpath(dir);
  if (ancestors.has(real)) {
    throw sourceError(`${dir}: symbolic link loop`, 'remove the link that points back into the tree');
  }
  const chain = new Set(ancestors).add(real);
  const names = (await readdir(dir)).sort();
  for (const name of names) {
    const full = join(dir, name);
    // stat follows symlinks: a link to a file is copied as that file's content.
    const st = await stat(full).catch((err: unknown) => {
      throw describeFsError(err, full, 'read', true) ?? sourceError(`${full}: cannot read`, undefined, err);
    });
    if (st.isDirectory()) await walk(root, full, target, out, chain);
    else if (st.isFile())
      out.push({
        path: filePath(target, relative(root, full).split(sep).join('/')),
        source: full,
        size: st.size,
        mode: modeOf(st.mode),
      });
  }
}

/** Only the executable bit survives: scripts stay runnable, nothing else about the source host leaks. */
const modeOf = (mode: number): number => (mode & 0o111 ? 0o755 : 0o644);
