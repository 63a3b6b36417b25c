// Target: `dmsnap restore` of a lossless dump of 30 M exceptions (random
// layout, 4 KiB chunks) in <= 2x the time of `dmsnap dump --lossless` of the
// same COW (the reverse direction: the same entries, the same JSON), by the
// ratio of the medians of up to 7 alternated pairs (at least 3, within a time
// budget: one pair of 30 M takes a minute or more). Files in /dev/shm when
// there is one (a 120 GiB sparse COW on this disk is slow to delete; there is
// then no page cache to drop); the target COW is removed before each restore.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { layout, writeCow } from "../cow.mjs";
import { makeRow } from "../lib.mjs";
import { buildPeer } from "../peer.mjs";
import { alternate, dmsnap, emit, log, memoryDir, quick, requireTools, scratch, settle, timed } from "../proc.mjs";

requireTools();
const mem = memoryDir();
const dir = mem ? scratch("restore", mem) : scratch("restore");
const N = quick ? 1_000_000 : 30_000_000;
const CS = 8;
const LIMIT = quick ? 60 : 300; // seconds per run
const label = (n) => `${n / 1e6} M`;

let t0 = Date.now();
const cow = join(dir, "source.cow");
writeCow(cow, { chunkSize: CS, olds: layout("random", { originChunks: Math.ceil(N / 0.3), count: N, seed: 6 }) });
log(`source.cow: ${label(N)} exceptions, random layout written by dmsnap's builder, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const dumpFile = join(dir, "source.dump.json");
const target = join(dir, "restored.cow");
const dump = () => dmsnap(["dump", cow, "--lossless", "-o", dumpFile, "--force"], { timeoutSec: LIMIT });
const restore = () => dmsnap(["restore", dumpFile, "--cow", target, "-q"], { timeoutSec: LIMIT });
const before = (k) => {
  if (k === "restore") rmSync(target, { force: true });
  settle();
};
t0 = Date.now();
dump(); // the dump restore reads (and a warm-up)
const r = alternate({ dump, restore }, { runs: 7, minRuns: 3, budgetMs: quick ? 20_000 : 400_000, before });
log(`dump --lossless: ${r.dump.runs.map((x) => x.toFixed(0)).join(", ")} ms; restore: ${r.restore.runs.map((x) => x.toFixed(0)).join(", ")} ms`);

// The restored COW reads back as the source: the same dump --json (by the native peer, fast).
let same = "not compared (no C compiler)";
try {
  const peer = buildPeer();
  const a = join(dir, "a.json");
  const b = join(dir, "b.json");
  timed([peer, "dump", cow], { stdout: a });
  timed([peer, "dump", target], { stdout: b });
  if (!readFileSync(a).equals(readFileSync(b))) throw new Error("the restored COW does not read back as the source");
  same = "the restored COW reads back as the source (native peer's dump, byte for byte)";
  rmSync(a);
  rmSync(b);
} catch (e) {
  if (!/C compiler/.test(e.message)) throw e;
}
const timedOut = r.dump.timedOut || r.restore.timedOut;
const row = makeRow({
  id: "restore-time",
  group: "restore",
  what: `restore, ${label(N)} exceptions (random, 4 KiB chunks)`,
  unit: "ms",
  samples: { value: r.restore.runs, baseline: r.dump.runs },
  baseline: { label: "dump --lossless" },
  target: { on: "ratio", op: "<=", limit: 2, minPairs: 3 },
  note: timedOut
    ? `a run was killed after ${LIMIT} s: not met`
    : `${r.restore.runs.length} alternated pairs, files ${mem ? "in memory" : "on disk"}; peak RSS restore ${r.restore.rssMiB.toFixed(0)} MiB, dump ${r.dump.rssMiB.toFixed(0)} MiB; ${same}`,
});
if (timedOut) Object.assign(row, { met: false, verdict: "MISSED" });
await emit([row]);
