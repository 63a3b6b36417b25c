// Targets: `dmsnap export` of a 1 GiB origin whose COW holds 30 % of its chunks
// (4 KiB chunks) in <= 1.1x the time of GNU `cp` of the origin, for a random
// COW layout and a sequential one; peak RSS of the whole export process
// < 64 MiB at ~80 k exceptions and at 2 M (sparse, 1-sector chunks), so that
// it visibly does not grow with the count.
//
// Baselines, each a process timed like export: export makes its output
// durable (fsync before the rename), so `cp` and `cat` are timed with the same
// fsync (`cp origin out && sync out`); plain `cp` (no fsync) is shown as well.
// Every file is in the page cache (warm-up run first); the output is removed
// before each run (which also drops a plain cp's dirty pages).
import { rmSync } from "node:fs";
import { join } from "node:path";
import { chunkPattern, layout, writeCow, writeOrigin } from "../cow.mjs";
import { makeRow } from "../lib.mjs";
import { alternate, dmsnap, emit, log, memoryDir, quick, requireTools, scratch, timed } from "../proc.mjs";

requireTools();
const dir = scratch("export");
const SIZE = quick ? 256 << 20 : 1 << 30;
const CS = 8;
const CB = CS * 512;
const originChunks = SIZE / CB;
const mib = SIZE / 2 ** 20;
const origin = join(dir, "origin.img");
const out = join(dir, "view.img");

let t0 = Date.now();
writeOrigin(origin, SIZE);
const cows = {};
for (const kind of ["random", "sequential"]) {
  const olds = layout(kind, { originChunks, fraction: 0.3, seed: 1 });
  cows[kind] = { path: join(dir, `${kind}.cow`), count: olds.length };
  writeCow(cows[kind].path, { chunkSize: CS, olds, data: chunkPattern(CS) });
}
log(`origin ${mib} MiB and two COWs of ${cows.random.count} exceptions (30 %), layouts written by dmsnap's builder, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

const fresh = () => rmSync(out, { force: true });
const sh = (script) => ["sh", "-c", script, "sh", origin, out];
const baselines = {
  "cp+fsync": () => timed(sh('cp "$1" "$2" && sync "$2"')),
  "cat+fsync": () => timed(sh('cat "$1" > "$2" && sync "$2"')),
  cp: () => timed(sh('cp "$1" "$2"')),
};
const exportOf = (cow) => () => dmsnap(["export", "--origin", origin, "--cow", cow, "--output", out, "--progress", "none"]);

// Warm-up: origin and COWs into the page cache.
for (const f of [baselines.cp, exportOf(cows.random.path), exportOf(cows.sequential.path)]) {
  fresh();
  f();
}
const r = alternate({ ...baselines, random: exportOf(cows.random.path), sequential: exportOf(cows.sequential.path) }, { runs: quick ? 3 : 5, minRuns: 3, budgetMs: 60_000, before: fresh });
for (const [k, v] of Object.entries(r)) log(`${k}: ${v.runs.map((x) => x.toFixed(0)).join(", ")} ms`);
rmSync(out, { force: true });

// Peak RSS at 2 M exceptions: 1-sector chunks (so the view is 1 GiB), every chunk in the COW, sparse.
t0 = Date.now();
const BIG = quick ? 1 << 20 : 1 << 21;
// In memory when there is one (RSS does not depend on it; a big sparse file on this disk is slow to delete).
const mem = memoryDir();
const bigDir = mem ? scratch("export-big", mem) : dir;
const bigOrigin = join(bigDir, "big-origin.img");
const bigCow = join(bigDir, "big.cow");
const bigOut = join(bigDir, "view.img");
writeOrigin(bigOrigin, BIG * 512, { sparse: true });
writeCow(bigCow, { chunkSize: 1, olds: layout("random", { originChunks: BIG, fraction: 1, seed: 4 }) });
log(`big: ${BIG} exceptions, 1-sector chunks, sparse, random layout written by dmsnap's builder, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const BIG_LIMIT = 90; // seconds: a slow export must not blow the whole bench's budget
const big = dmsnap(["export", "--origin", bigOrigin, "--cow", bigCow, "--output", bigOut, "--progress", "none"], { timeoutSec: BIG_LIMIT });
rmSync(bigDir, { recursive: true, force: true });
const idle = timed([process.execPath, "-e", "0"]);

const k = (n) => (n >= 1e6 ? `${(n / 2 ** 20).toFixed(0)} Mi` : `${(n / 1000).toFixed(0)} k`);
const rows = [];
for (const kind of ["random", "sequential"]) {
  const e = r[kind];
  rows.push(
    makeRow({
      id: `export-${kind}-4k`,
      group: "export",
      what: `export ${mib} MiB, 30 % in COW, ${kind} layout, 4 KiB chunks`,
      value: e.ms,
      unit: "ms",
      baseline: { label: "cp + fsync", value: r["cp+fsync"].ms },
      target: { on: "ratio", op: "<=", limit: 1.1 },
      note: `${(mib / (e.ms / 1000)).toFixed(0)} MiB/s; ${(e.ms / r["cat+fsync"].ms).toFixed(2)}x cat + fsync (${r["cat+fsync"].ms.toFixed(0)} ms), ${(e.ms / r.cp.ms).toFixed(2)}x plain cp without fsync (${r.cp.ms.toFixed(0)} ms); medians of ${e.runs.length}; ${cows[kind].count} exceptions, layout written by dmsnap's builder`,
    }),
  );
}
rows.push(
  makeRow({
    id: "export-rss-small",
    group: "export",
    what: `export peak RSS, ${k(cows.random.count)} exceptions (random)`,
    value: r.random.rssMiB,
    unit: "MiB",
    baseline: { label: "node -e 0", value: idle.rssMiB },
    target: { on: "value", op: "<", limit: 64, unit: "MiB" },
    note: "whole process (GNU time %M around the real CLI), node runtime included",
  }),
  makeRow({
    id: "export-rss-big",
    group: "export",
    what: `export peak RSS, ${k(BIG)} exceptions (random, 1-sector chunks)`,
    value: big.rssMiB,
    unit: "MiB",
    baseline: { label: `RSS at ${k(cows.random.count)}`, value: r.random.rssMiB },
    target: { on: "value", op: "<", limit: 64, unit: "MiB" },
    note: big.timedOut
      ? `killed after ${BIG_LIMIT} s (too slow to finish here): peak RSS until then, not met`
      : `must not grow with the count; this export took ${(big.ms / 1000).toFixed(1)} s`,
  }),
);
if (big.timedOut) rows[rows.length - 1].met = false;
await emit(rows);
