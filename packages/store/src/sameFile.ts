/**
 * One answer to "are these two paths one file?" for the store's commands and
 * the CLI (`@dmsnap/store/node`): the same device and inode, or for a block
 * device the same device number, whatever the paths, links or names say.
 */
import { promises as fs, type Stats } from "node:fs";
import { resolve } from "node:path";

/** What makes two paths one file. */
export type FileIdentity = string;

export function fileIdentity(st: Stats): FileIdentity {
  return st.isBlockDevice() ? `block:${st.rdev}` : `file:${st.dev}:${st.ino}`;
}

/** The identity of `path`; a path that cannot be stat'ed (not created yet) is only itself. */
export async function pathIdentity(path: string): Promise<FileIdentity> {
  try {
    return fileIdentity(await fs.stat(path));
  } catch {
    return `path:${resolve(path)}`;
  }
}

/** The first two of `files` (in order) that are one file, or null. */
export function sameFilePair<T extends { identity: FileIdentity }>(files: readonly T[]): [T, T] | null {
  for (let i = 0; i < files.length; i++) {
    for (let j = i + 1; j < files.length; j++) if (files[i]!.identity === files[j]!.identity) return [files[i]!, files[j]!];
  }
  return null;
}
