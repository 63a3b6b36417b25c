/**
 * Builds the native peer (bench/peer/cowpeer.c) with the system C compiler,
 * `cc -O2`, into .cache/bench/peer/ (rebuilt when the source is newer). No new
 * dependency: without a compiler the bench says how to get one and the rows
 * that need the peer are MISSED with that note.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const SRC = join(root, "bench/peer/cowpeer.c");

/** The path of the built peer; throws an Error whose message says what to install. */
export function buildPeer({ cc = process.env.CC ?? "cc", outDir = join(root, ".cache/bench/peer") } = {}) {
  const bin = join(outDir, "cowpeer");
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(SRC).mtimeMs) return bin;
  mkdirSync(outDir, { recursive: true });
  const r = spawnSync(cc, ["-O2", "-Wall", "-o", bin, SRC], { encoding: "utf8" });
  if (r.error?.code === "ENOENT") {
    throw new Error(`the native peer needs a C compiler: '${cc}' was not found (Debian: apt-get install gcc; or set CC)`);
  }
  if (r.status !== 0) throw new Error(`building the native peer failed (${cc} -O2 ${SRC}):\n${r.stderr}`);
  return bin;
}
