/** Helpers shared by the store's tests (not exported from the package). */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CowImage } from "@dmsnap/format";

// The layout restated by hand, independent of layout.ts (see that file).
export { handAllocation, handAreaChunk, handCow, handReadAreas } from "../../format/test/handImage.js";

const pythonReader = new URL("../../../conformance/readers/python/dmsnap_reader.py", import.meta.url).pathname;

/**
 * `dump` by the independent Python reader (conformance/readers/python, written
 * from docs/format.md alone): an oracle that shares no code with ours.
 */
export function pythonDump(bytes: Uint8Array, tableChunkSize: number): { state: string; exceptions: Array<[number, number]>; nextFree: number; currentArea: number } {
  const dir = mkdtempSync(join(tmpdir(), "dmsnap-py-"));
  try {
    const file = join(dir, "cow.img");
    writeFileSync(file, bytes);
    const r = spawnSync("python3", [pythonReader, "dump", "--chunk-size", String(tableChunkSize), file], { encoding: "utf8", maxBuffer: 1 << 28 });
    if (r.status !== 0) throw new Error(`python reader exit ${r.status}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export { activate, drain } from "./settle.js";

export function pairsOf(image: CowImage): Array<[number, number]> {
  return image.exceptions.toPairs();
}

/** Seed count for the randomised suites: DMSNAP_SIM_SEEDS overrides, DMSNAP_SIM_SEED replays one. */
export function seeds(defaultCount: number, salt: number): number[] {
  const one = process.env.DMSNAP_SIM_SEED;
  if (one !== undefined && one !== "") return [Number(one)];
  const n = Number(process.env.DMSNAP_SIM_SEEDS ?? defaultCount);
  const scale = Number.isFinite(n) && n > 0 ? n : defaultCount;
  return Array.from({ length: scale }, (_, i) => (salt * 1_000_003 + i) >>> 0);
}
