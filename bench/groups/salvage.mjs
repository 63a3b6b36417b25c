// Targets: peak RSS of `dmsnap repair` (the whole process) <= 128 MiB at 30 M
// exceptions (random layout, 4 KiB chunks), memory bounded
// like dump's: `repair-rss` on a COW with an intact header, `salvage-rss` on
// the same COW with its header zeroed (the 2009 race's damage), so the chunk
// size is inferred by scoring every power of two. One run each (a memory
// figure). Files in /dev/shm when it has room for the output (repair copies
// the data chunks: today about 64 KiB per metadata area even where they are
// holes, 7.5 GB at 30 M), else on disk.
import { closeSync, openSync, rmSync, statfsSync, writeSync } from "node:fs";
import { join } from "node:path";
import { layout, writeCow } from "../cow.mjs";
import { makeRow } from "../lib.mjs";
import { dmsnap, emit, log, memoryDir, quick, requireTools, scratch } from "../proc.mjs";

requireTools();
const N = quick ? 2_000_000 : 30_000_000;
const mem = memoryDir();
const room = mem ? statfsSync(mem).bavail * statfsSync(mem).bsize : 0;
const dir = mem && room > N * 400 ? scratch("salvage", mem) : scratch("salvage");
const CS = 8;
const LIMIT = quick ? 60 : 400; // seconds
const label = (n) => `${n / 1e6} M`;

const t0 = Date.now();
const cow = join(dir, "damaged.cow");
writeCow(cow, { chunkSize: CS, olds: layout("random", { originChunks: Math.ceil(N / 0.3), count: N, seed: 7 }) });
log(`damaged.cow: ${label(N)} exceptions, 4 KiB chunks, random layout written by dmsnap's builder, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
const out = join(dir, "repaired.cow");
const repair = () => {
  rmSync(out, { force: true });
  const r = dmsnap(["repair", cow, "--output", out, "--progress", "none"], { timeoutSec: LIMIT });
  rmSync(out, { force: true });
  return r;
};
const intact = repair();
log(`repair (header intact): ${(intact.ms / 1000).toFixed(1)} s, peak RSS ${intact.rssMiB.toFixed(0)} MiB`);
const fd = openSync(cow, "r+");
writeSync(fd, Buffer.alloc(16), 0, 16, 0); // the header words gone: magic 0, chunk size 0
closeSync(fd);
const salvaged = repair();
log(`salvage (header zeroed, chunk size inferred): ${(salvaged.ms / 1000).toFixed(1)} s, peak RSS ${salvaged.rssMiB.toFixed(0)} MiB`);

const rowOf = (id, what, r) => {
  const row = makeRow({
    id,
    group: "salvage",
    what,
    value: r.rssMiB,
    unit: "MiB",
    target: { on: "value", op: "<=", limit: 128, unit: "MiB" },
    note: r.timedOut ? `killed after ${LIMIT} s: peak RSS until then, not met` : `whole process; took ${(r.ms / 1000).toFixed(1)} s; ${(((r.rssMiB - 40) * 2 ** 20) / N).toFixed(1)} B per exception above a 40 MiB runtime`,
  });
  if (r.timedOut) Object.assign(row, { met: false, verdict: "MISSED" });
  return row;
};
await emit([
  rowOf("repair-rss", `repair peak RSS, ${label(N)} exceptions, header intact`, intact),
  rowOf("salvage-rss", `salvage peak RSS, ${label(N)} exceptions, header zeroed (chunk size inferred)`, salvaged),
]);
