// Target: `dmsnap dump --json` of 1 M exceptions (random layout, 4 KiB chunks)
// in <= 0.15x the time of the naive per-entry Python reader (bench/naive_reader.py),
// both whole processes writing to a file; and streamed, constant memory: peak
// RSS at 4x the exceptions within 1.2x of the RSS at 1 M.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { layout, writeCow } from "../cow.mjs";
import { makeRow } from "../lib.mjs";
import { alternate, dmsnap, emit, log, memoryDir, quick, requireTools, root, scratch, timed } from "../proc.mjs";

requireTools();
const mem = memoryDir(); // the metadata is in the page cache either way; deleting big sparse files on this disk is slow
const dir = mem ? scratch("dump", mem) : scratch("dump");
const N = quick ? 250_000 : 1_000_000;
const BIG = 4 * N;
const CS = 8;
const NAIVE = join(root, "bench/naive_reader.py");
const label = (n) => (n >= 1e6 ? `${n / 1e6} M` : `${n / 1e3} k`);

function makeCow(count, name) {
  const t0 = Date.now();
  const olds = layout("random", { originChunks: Math.ceil(count / 0.3), count, seed: 2 });
  const path = join(dir, name);
  writeCow(path, { chunkSize: CS, olds });
  log(`${name}: ${label(count)} exceptions, random layout written by dmsnap's builder, in ${Date.now() - t0} ms`);
  return path;
}

const cow = makeCow(N, "dump.cow");
const outD = join(dir, "dmsnap.json");
const outN = join(dir, "naive.json");
const r = alternate(
  {
    dmsnap: () => dmsnap(["dump", cow, "--json"], { stdout: outD }),
    naive: () => timed(["python3", NAIVE, cow], { stdout: outN }),
  },
  { runs: 5, minRuns: 3, budgetMs: 25_000 },
);
// Both did the whole job: the same number of exceptions, the same first and last.
const a = JSON.parse(readFileSync(outD, "utf8")).exceptions;
const b = JSON.parse(readFileSync(outN, "utf8")).exceptions;
if (a.length !== N || b.length !== N || String(a[0]) !== String(b[0]) || String(a[N - 1]) !== String(b[N - 1])) {
  throw new Error(`dump and the naive reader disagree: ${a.length} vs ${b.length} exceptions`);
}
const jsonMiB = statSync(outD).size / 2 ** 20;
const bigCow = makeCow(BIG, "big.cow");
const big = dmsnap(["dump", bigCow, "--json"], { stdout: outD });

await emit([
  makeRow({
    id: "dump-json-time",
    group: "dump",
    what: `dump --json, ${label(N)} exceptions (random, 4 KiB chunks)`,
    value: r.dmsnap.ms,
    unit: "ms",
    baseline: { label: "naive Python reader", value: r.naive.ms },
    target: { on: "ratio", op: "<=", limit: 0.15 },
    note: `medians of ${r.dmsnap.runs.length}; ${jsonMiB.toFixed(0)} MiB of JSON; dmsnap ${(N / r.dmsnap.ms / 1000).toFixed(1)} M exceptions/s; layout written by dmsnap's builder`,
  }),
  makeRow({
    id: "dump-json-rss",
    group: "dump",
    what: `dump --json peak RSS, ${label(BIG)} exceptions`,
    value: big.rssMiB,
    unit: "MiB",
    baseline: { label: `RSS at ${label(N)}`, value: r.dmsnap.rssMiB },
    target: { on: "ratio", op: "<=", limit: 1.2 },
    note: `constant memory: 4x the exceptions, at most 1.2x the peak RSS; ${label(BIG)} took ${(big.ms / 1000).toFixed(1)} s`,
  }),
]);
