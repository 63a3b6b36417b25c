/** Small path helpers shared by the Node-only commands (not part of the public API). */
import { promises as fs } from "node:fs";
import { pathIdentity } from "./sameFile.js";
import { StoreError, StoreErrorCode } from "./errors.js";

/** fsyncs a folder so a rename in it is durable. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const h = await fs.open(dir, "r");
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Some file systems cannot fsync a directory; the rename is still atomic.
  }
}

/** Refuses `path` when it is one file with any of `inputs` (device and inode, whatever the links or names). */
export async function refuseSame(path: string, inputs: string[], option: string): Promise<void> {
  const mine = await pathIdentity(path);
  for (const other of inputs) {
    if (mine === (await pathIdentity(other))) throw new StoreError(StoreErrorCode.SameFile, `${option} ${path} is the same file as ${other}; give a different path`);
  }
}
