// Targets: `dmsnap dump --json` of 4 M exceptions (random layout, 4 KiB chunks)
// in <= 2x the time of the native peer (bench/peer/cowpeer.c, `cowpeer dump`,
// which writes the same bytes), both whole processes writing to a file,
// alternated, ratio of the medians; and streamed, constant memory: peak RSS at
// 4 M within 1.2x of the RSS at 1 M.
// Also printed (information): dmsnap vs the per-entry Python reader
// (bench/naive_reader.py, one json.dumps at the end) at 1 M.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { layout, writeCow } from "../cow.mjs";
import { makeRow } from "../lib.mjs";
import { buildPeer } from "../peer.mjs";
import { alternate, dmsnap, emit, log, memoryDir, quick, requireTools, root, scratch, timed } from "../proc.mjs";

requireTools();
const mem = memoryDir(); // the metadata is in the page cache either way; deleting big sparse files on this disk is slow
const dir = mem ? scratch("dump", mem) : scratch("dump");
const N = quick ? 250_000 : 1_000_000;
const BIG = 4 * N;
const CS = 8;
const NAIVE = join(root, "bench/naive_reader.py");
const label = (n) => (n >= 1e6 ? `${n / 1e6} M` : `${n / 1e3} k`);
const where = mem ? "in memory" : "on disk";

function makeCow(count, name) {
  const t0 = Date.now();
  const olds = layout("random", { originChunks: Math.ceil(count / 0.3), count, seed: 2 });
  const path = join(dir, name);
  writeCow(path, { chunkSize: CS, olds });
  log(`${name}: ${label(count)} exceptions, random layout written by dmsnap's builder, in ${Date.now() - t0} ms`);
  return path;
}

let peer = null;
let peerError = null;
try {
  peer = buildPeer();
} catch (e) {
  peerError = e.message;
  log(`native peer: ${peerError}`);
}

const rows = [];
const cow = makeCow(N, "dump.cow");
const bigCow = makeCow(BIG, "big.cow");
const outD = join(dir, "dmsnap.json");
const outP = join(dir, "peer.json");
const outN = join(dir, "naive.json");

// The target: 4 M, dmsnap vs the native peer, alternated; the outputs must be the same bytes.
const big = alternate(
  {
    dmsnap: () => dmsnap(["dump", bigCow, "--json"], { stdout: outD }),
    ...(peer ? { peer: () => timed([peer, "dump", bigCow], { stdout: outP }) } : {}),
  },
  { runs: quick ? 5 : 7, minRuns: 3, budgetMs: 60_000 },
);
let same = "no peer";
if (peer) {
  const a = readFileSync(outD);
  const b = readFileSync(outP);
  same = a.equals(b) ? "byte-identical" : "DIFFERENT";
  if (!a.equals(b)) throw new Error(`dmsnap dump --json and the native peer wrote different JSON for ${bigCow} (${a.length} vs ${b.length} bytes)`);
  log(`4 M: dmsnap ${big.dmsnap.runs.map((x) => x.toFixed(0)).join(", ")} ms; peer ${big.peer.runs.map((x) => x.toFixed(0)).join(", ")} ms; outputs ${same}`);
}
const jsonMiB = readFileSync(outD).length / 2 ** 20;
rows.push(
  makeRow({
    id: "dump-json-time",
    group: "dump",
    what: `dump --json, ${label(BIG)} exceptions (random, 4 KiB chunks), end to end`,
    unit: "ms",
    ...(peer
      ? { samples: { value: big.dmsnap.runs, baseline: big.peer.runs }, baseline: { label: "C peer (cowpeer dump)" } }
      : { value: big.dmsnap.ms, baseline: { label: "C peer (not built)", value: NaN } }),
    target: { on: "ratio", op: "<=", limit: 2 },
    note: peer
      ? `outputs ${same} (${jsonMiB.toFixed(0)} MiB of JSON, to a file ${where}); dmsnap ${(BIG / big.dmsnap.ms / 1000).toFixed(1)} M exceptions/s, peak RSS ${big.dmsnap.rssMiB.toFixed(0)} MiB; peer ${big.peer.rssMiB.toFixed(0)} MiB; layout written by dmsnap's builder`
      : peerError,
  }),
);

// Constant memory: 1 M vs 4 M; and the per-entry Python reader at 1 M (information).
const small = alternate(
  {
    dmsnap: () => dmsnap(["dump", cow, "--json"], { stdout: outD }),
    python: () => timed(["python3", NAIVE, cow], { stdout: outN }),
  },
  { runs: 3, minRuns: 3, budgetMs: 0 },
);
const a = JSON.parse(readFileSync(outD, "utf8")).exceptions;
const b = JSON.parse(readFileSync(outN, "utf8")).exceptions;
if (a.length !== N || b.length !== N || String(a[0]) !== String(b[0]) || String(a[N - 1]) !== String(b[N - 1])) {
  throw new Error(`dump and the Python reader disagree: ${a.length} vs ${b.length} exceptions`);
}
rows.push(
  makeRow({
    id: "dump-json-rss",
    group: "dump",
    what: `dump --json peak RSS, ${label(BIG)} exceptions`,
    value: big.dmsnap.rssMiB,
    unit: "MiB",
    baseline: { label: `RSS at ${label(N)}`, value: small.dmsnap.rssMiB },
    target: { on: "ratio", op: "<=", limit: 1.2 },
    note: "constant memory: 4x the exceptions, at most 1.2x the peak RSS (the highest of the runs on each side)",
  }),
  makeRow({
    id: "dump-json-python",
    group: "dump",
    what: `dump --json, ${label(N)} exceptions, vs a per-entry Python reader`,
    unit: "ms",
    samples: { value: small.dmsnap.runs, baseline: small.python.runs },
    baseline: { label: "Python reader (json.dumps)" },
    note: "information: bench/naive_reader.py, struct.unpack per entry, a list, one json.dumps (the C encoder); the same exceptions; before 2026-12-08 this was the target's baseline, with the pure-Python encoder",
  }),
);
await emit(rows);
