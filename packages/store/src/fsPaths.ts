/** Small path helpers shared by the Node-only commands (not part of the public API). */
import { promises as fs } from "node:fs";
import { resolve } from "node:path";
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

/** Refuses `path` when it names one of `inputs` (after following links). */
export async function refuseSame(path: string, inputs: string[], option: string): Promise<void> {
  const real = async (p: string) => fs.realpath(p).catch(() => resolve(p));
  const mine = await real(path);
  for (const other of inputs) {
    if (mine === (await real(other))) throw new StoreError(StoreErrorCode.SameFile, `${option} ${path} is the same file as ${other}; give a different path`);
  }
}
