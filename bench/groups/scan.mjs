// Targets: `dmsnap check` and `map` at >= 0.5x the rate of a process that only
// reads the metadata areas (bench/read_areas.mjs), `usage` at >= 20 M
// exceptions/s, end to end (the CLI process, wall clock) on a large sparse COW
// (16 M exceptions, 4 KiB chunks, random layout, so that process start-up does
// not dominate), with bounded memory: peak RSS at 16 M within 1.2x of the peak
// RSS at 4 M. Also printed (information): check and map against the native
// check peer (`cowpeer check`, bench/peer/cowpeer.c), the floor for a checker
// that validates every entry.
import { join } from "node:path";
import { layout, writeCow } from "../cow.mjs";
import { makeRow } from "../lib.mjs";
import { buildPeer } from "../peer.mjs";
import { alternate, dmsnap, emit, log, memoryDir, quick, requireTools, root, scratch, timed } from "../proc.mjs";

requireTools();
// In memory (/dev/shm) when there is one: these commands read metadata the page
// cache holds anyway, and a 61 GiB sparse file on this disk takes minutes to delete.
const mem = memoryDir();
const dir = mem ? scratch("scan", mem) : scratch("scan");
const N = quick ? 4_000_000 : 16_000_000;
const SMALL = N / 4;
const CS = 8;
const only = process.argv.slice(2).filter((a) => ["check", "map", "usage"].includes(a));
const commands = only.length ? only : ["check", "map", "usage"];
const label = (n) => `${n / 1e6} M`;

function makeCow(count, name) {
  const t0 = Date.now();
  const olds = layout("random", { originChunks: Math.ceil(count / 0.3), count, seed: 3 });
  const path = join(dir, name);
  const g = writeCow(path, { chunkSize: CS, olds });
  log(`${name}: ${label(count)} exceptions, ${(g.deviceBytes / 2 ** 30).toFixed(0)} GiB sparse, random layout written by dmsnap's builder, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return path;
}

const argsOf = {
  check: (cow) => ["check", cow, "--json"],
  map: (cow) => ["map", cow, "--svg", join(dir, "map.svg"), "--force"],
  usage: (cow) => ["usage", cow],
};
const out = join(dir, "out.txt");
// check exits 1 when it finds errors; this image has none, so 0 is required.
const run = (cmd, cow) => () => dmsnap(argsOf[cmd](cow), { stdout: out, timeoutSec: 60 });

const small = makeCow(SMALL, "small.cow");
const smallRss = Object.fromEntries(commands.map((c) => [c, run(c, small)().rssMiB]));
log(`peak RSS at ${label(SMALL)}: ${commands.map((c) => `${c} ${smallRss[c].toFixed(0)} MiB`).join(", ")}`);
const cow = makeCow(N, "big.cow");
const floor = alternate({ read: () => timed([process.execPath, join(root, "bench/read_areas.mjs"), cow]) }, { runs: 3, minRuns: 1, budgetMs: 10_000 }).read;
log(`reading the areas alone: ${floor.runs.map((x) => x.toFixed(0)).join(", ")} ms`);
let peer = null;
let peerNote = "";
try {
  peer = buildPeer();
} catch (e) {
  peerNote = e.message;
}
// The peer exits 0: this image has no findings (1 would mean it found some).
const checkPeer = peer ? alternate({ peer: () => timed([peer, "check", cow], { stdout: out, timeoutSec: 60 }) }, { runs: 3, minRuns: 1, budgetMs: 8_000 }).peer : null;
if (checkPeer) log(`native check peer: ${checkPeer.runs.map((x) => x.toFixed(0)).join(", ")} ms, peak RSS ${checkPeer.rssMiB.toFixed(0)} MiB`);
const rows = [];
for (const c of commands) {
  const r = alternate({ [c]: run(c, cow) }, { runs: 3, minRuns: 1, budgetMs: 8_000 })[c];
  const rate = N / r.ms / 1000;
  const floorRate = N / floor.ms / 1000;
  log(`${c}: ${r.runs.map((x) => x.toFixed(0)).join(", ")} ms, peak RSS ${r.rssMiB.toFixed(0)} MiB`);
  rows.push(
    makeRow({
      id: `${c}-rate`,
      group: "scan",
      what: `${c}, ${label(N)} exceptions (random, 4 KiB chunks), end to end`,
      value: rate,
      unit: "M exc/s",
      baseline: { label: "read-the-areas process", value: floorRate },
      // check and map: issue #24's ratio; usage keeps issue #15's absolute rate.
      target: c === "usage" ? { on: "value", op: ">=", limit: 20, unit: "M exc/s" } : { on: "ratio", op: ">=", limit: 0.5 },
      note: `median of ${r.runs.length}: ${(r.ms / 1000).toFixed(2)} s; the areas alone are read in ${(floor.ms / 1000).toFixed(2)} s; COW ${mem ? "in memory" : "on disk"}, layout written by dmsnap's builder`,
    }),
    makeRow({
      id: `${c}-rss`,
      group: "scan",
      what: `${c} peak RSS, ${label(N)} exceptions`,
      value: r.rssMiB,
      unit: "MiB",
      baseline: { label: `RSS at ${label(SMALL)}`, value: smallRss[c] },
      target: { on: "ratio", op: "<=", limit: 1.2 },
      note: "bounded: 4x the exceptions, at most 1.2x the peak RSS",
    }),
  );
  if (c !== "usage") {
    rows.push(
      makeRow({
        id: `${c}-vs-peer`,
        group: "scan",
        what: `${c}, ${label(N)} exceptions, vs the native check peer`,
        value: rate,
        unit: "M exc/s",
        baseline: { label: "C peer (cowpeer check)", value: checkPeer ? N / checkPeer.ms / 1000 : NaN },
        note: checkPeer
          ? `information: the peer walks the areas and checks every entry (range, metadata, duplicate old and new chunks, leaked chunks) in ${(checkPeer.ms / 1000).toFixed(2)} s, peak RSS ${checkPeer.rssMiB.toFixed(0)} MiB`
          : peerNote,
      }),
    );
  }
}
await emit(rows);
