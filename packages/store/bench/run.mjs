#!/usr/bin/env node
/**
 * Store benchmarks (issue #15 and earlier), run against the built packages
 * (pnpm build first). Groups, all by default, or named: commit lookups merge.
 *   commit:  100 k exceptions, 64 in flight, on a file device, vs a raw replay
 *            of the same writes and syncs (target <= 1.3x);
 *   lookups: lookups per second in an exception index of 1 M entries;
 *   merge:   offline merge of 1 M exceptions (random layout, 1-sector chunks,
 *            files on /dev/shm) through the devices `dmsnap merge` uses, vs a
 *            raw replay of the merge's own reads, writes and syncs with plain
 *            synchronous fs calls (target <= 1.5x).
 * Temporary files live in os.tmpdir() and are deleted. `--quick` shrinks sizes;
 * `--json` prints the rows as JSON too; `--rows-out FILE` is for `pnpm bench`.
 */
import { promises as fs, constants as C, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { layout, writeCow, writeOrigin } from "../../../bench/cow.mjs";
import { makeRow, median } from "../../../bench/lib.mjs";
import { emit, log, memoryDir, quick, scratch, settle } from "../../../bench/proc.mjs";
import { OpLog, recording, replayAsync, replaySync } from "../../../bench/recording.mjs";

const { PersistentStore, ExceptionIndex, mergeSnapshot } = await import(new URL("../dist/index.js", import.meta.url).href);
const { FileDevice, BlockingFileDevice, createCow } = await import(new URL("../dist/node.js", import.meta.url).href);

const groups = ["commit", "lookups", "merge"];
const asked = process.argv.slice(2).filter((a) => groups.includes(a));
const run = asked.length ? asked : groups;
const dir = scratch("store");
const rows = [];

// Five paired runs (store, then its raw replay), median ratio: one run's ratio
// swung from 1.11x to 1.48x between back-to-back runs on the quiet machine.
const COMMIT_RUNS = 5;

async function benchCommit() {
  const N = quick ? 20_000 : 100_000;
  const INFLIGHT = 64;
  const runs = [];
  for (let k = 0; k < COMMIT_RUNS; k++) runs.push(await oneCommitRun(N, INFLIGHT, k));
  const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const ratios = runs.map((r) => r.storeMs / r.rawMs);
  const mid = runs[ratios.indexOf(med(ratios))];
  const c = mid.counts;
  rows.push(
    makeRow({
      id: "commit-100k",
      group: "commit",
      what: `commit ${N / 1000}k exceptions, ${INFLIGHT} in flight (file)`,
      value: mid.storeMs,
      unit: "ms",
      baseline: { label: "raw replay (fs.promises)", value: mid.rawMs },
      target: { on: "ratio", op: "<=", limit: 1.3 },
      note: `the run with the median of ${COMMIT_RUNS} paired ratios (${ratios.map((x) => x.toFixed(2)).join(", ")}); ${c.writes} writes, ${c.flushes} syncs`,
    }),
  );
}

async function oneCommitRun(N, INFLIGHT, k) {
  const CS = 8; // 4 KiB chunks, 256 exceptions per area
  const chunks = N + Math.ceil(N / 256) + 8;
  const path = join(dir, `commit-${k}.cow`);
  await createCow({ cow: path, chunkSize: CS, size: chunks * CS * 512 });
  const dev = await FileDevice.open(path);
  const ops = new OpLog();
  const s = await PersistentStore.open(recording(dev, ops, 0), { chunkSize: CS });
  ops.n = 0;
  const t0 = performance.now();
  // A ring of INFLIGHT prepared exceptions: each new prepare commits the oldest.
  const ring = new Float64Array(INFLIGHT);
  let acked = 0;
  let failed = 0;
  let finish;
  const finished = new Promise((r) => (finish = r));
  // Back-pressure as a snapshot has it: copies finish as fast as the store takes
  // them, but no more than two areas' worth of commits wait for durability.
  const LIMIT = 512;
  let issued = 0;
  let wake = null;
  const onDone = (ok) => {
    if (!ok) failed++;
    if (++acked === N) finish();
    if (wake && issued - acked < LIMIT) {
      const w = wake;
      wake = null;
      w();
    }
  };
  for (let i = 0; i < N; i++) {
    if (issued - acked >= LIMIT) await new Promise((r) => (wake = r));
    if (i >= INFLIGHT) {
      issued++;
      s.commit(i - INFLIGHT, ring[i % INFLIGHT]).then(onDone);
    }
    ring[i % INFLIGHT] = s.prepare();
  }
  for (let i = Math.max(0, N - INFLIGHT); i < N; i++) {
    issued++;
    s.commit(i, ring[i % INFLIGHT]).then(onDone);
  }
  await finished;
  const storeMs = performance.now() - t0;
  if (failed) throw new Error(`${failed} commits failed`);
  await dev.close();

  // Raw replay of the same writes and syncs on a fresh file (fs.promises, one at a time).
  const rawPath = join(dir, `raw-${k}.cow`);
  const h = await fs.open(rawPath, C.O_RDWR | C.O_CREAT);
  await h.truncate(chunks * CS * 512);
  const rawMs = await replayAsync(ops, [h]);
  await h.close();
  await fs.rm(path);
  await fs.rm(rawPath);
  return { storeMs, rawMs, counts: ops.counts() };
}

function benchLookups() {
  const N = 1_000_000;
  const t0 = performance.now();
  const idx = new ExceptionIndex(N);
  // Origin chunks spread over a 4 M-chunk origin; COW chunks in allocation order.
  for (let i = 0; i < N; i++) idx.set(((Math.imul(i, 0x9e3779b1) >>> 0) % 4_194_304) + (i % 3) * 4_194_304, i + 2);
  const buildMs = performance.now() - t0;
  const Q = quick ? 2_000_000 : 10_000_000;
  const keys = new Float64Array(1 << 16);
  // Half the queries hit (keys that were inserted), half miss.
  for (let i = 0; i < keys.length; i++) {
    const j = Math.floor(Math.random() * N);
    keys[i] = i % 2 === 0 ? ((Math.imul(j, 0x9e3779b1) >>> 0) % 4_194_304) + (j % 3) * 4_194_304 : 3 * 4_194_304 + j;
  }
  // Baseline: the same loop over a plain typed-array probe (the memory walk alone).
  let sink = 0;
  const t2 = performance.now();
  for (let i = 0; i < Q; i++) sink += keys[i & 0xffff] > 0 ? 1 : 0;
  const loopMs = performance.now() - t2;
  let hits = 0;
  const t1 = performance.now();
  for (let i = 0; i < Q; i++) if (idx.get(keys[i & 0xffff]) >= 0) hits++;
  const ms = performance.now() - t1;
  if (sink < 0) console.log(sink);
  rows.push(
    makeRow({
      id: "lookups",
      group: "lookups",
      what: `index lookups, ${(idx.size / 1e6).toFixed(2)} M entries`,
      value: Q / ms / 1000,
      unit: "M lookups/s",
      baseline: { label: "empty loop over the keys", value: Q / loopMs / 1000 },
      note: `${((100 * hits) / Q).toFixed(0)} % hits, built in ${buildMs.toFixed(0)} ms, ${(idx.byteLength / 2 ** 20).toFixed(0)} MiB table`,
    }),
  );
}

async function benchMerge() {
  const N = Number(process.env.DMSNAP_BENCH_MERGE ?? (quick ? 200_000 : 1_000_000));
  const CS = Number(process.env.DMSNAP_BENCH_MERGE_CHUNK ?? 1);
  const RUNS = quick ? 3 : 5;
  const BUDGET_MS = 40_000; // fewer runs when a slow merge would blow the whole bench's 6 minutes
  const originChunks = N; // every origin chunk in the COW, in random order (a small origin: it lives in memory)
  const olds = layout("random", { originChunks, count: N, seed: 6 });
  // On a memory file system: fdatasync costs nothing there, so the ratio shows
  // the merge's own overhead over its I/O rather than the disk's sync latency
  // (on this shared disk one replay of the same log took 5 s, the next 75 s).
  const mem = memoryDir();
  const where = mem ? scratch("merge", mem) : dir;
  const origin = join(where, "merge-origin.img");
  const cow = join(where, "merge.cow");
  writeOrigin(origin, originChunks * CS * 512, { sparse: true });
  const merges = [];
  const replays = [];
  // CPU time (user + system, all threads) of each: on files in memory every call is
  // CPU work, so on a quiet machine CPU time is the wall time, and on a shared one it
  // is not inflated by waiting for a core (the wall figures are kept as information).
  const mergesCpu = [];
  const replaysCpu = [];
  const cpuMs = (since) => {
    const u = process.cpuUsage(since);
    return (u.user + u.system) / 1000;
  };
  let counts;
  let result;
  const started = Date.now();
  let enough = false;
  for (let r = 0; r < RUNS && !enough; r++) {
    // A fresh COW each time (merge empties it); the origin keeps its blocks.
    writeCow(cow, { chunkSize: CS, olds });
    if (!mem) settle();
    const ops = new OpLog(1 << 22);
    // The devices `dmsnap merge` uses: synchronous calls on its handles.
    const blocking = async (p) => {
      const h = await fs.open(p, "r+");
      return BlockingFileDevice.fromHandle(p, h, (await h.stat()).size);
    };
    const o = await blocking(origin);
    const c = await blocking(cow);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = await mergeSnapshot({ origin: recording(o, ops, 0), cow: recording(c, ops, 1) });
    merges.push(performance.now() - t0);
    mergesCpu.push(cpuMs(c0));
    await o.close();
    await c.close();
    if (result.merged !== N) throw new Error(`merge merged ${result.merged} of ${N}`);
    counts = ops.counts();
    // Replay on the same files, from the same starting state.
    writeCow(cow, { chunkSize: CS, olds });
    if (!mem) settle();
    const fds = [openSync(origin, "r+"), openSync(cow, "r+")];
    const c1 = process.cpuUsage();
    replays.push(replaySync(ops, fds));
    replaysCpu.push(cpuMs(c1));
    for (const fd of fds) closeSync(fd);
    log(`merge run ${r + 1}: ${merges[r].toFixed(0)} ms (CPU ${mergesCpu[r].toFixed(0)} ms), raw replay ${replays[r].toFixed(0)} ms (CPU ${replaysCpu[r].toFixed(0)} ms)`);
  }
  if (mem) await fs.rm(where, { recursive: true, force: true });
  const what = `merge ${N / 1e6} M exceptions (random, ${CS * 512} B chunks, ${mem ? "files in memory" : "files on disk"})`;
  const ioText = `${counts.reads} reads, ${counts.writes} writes, ${counts.flushes} syncs, ${result.commits} commits`;
  const paired = (xs, ys) => median(xs.map((x, i) => x / ys[i]));
  const list = (xs, ys) => xs.map((x, i) => (x / ys[i]).toFixed(2)).join(", ");
  rows.push(
    makeRow({
      id: "merge-1m",
      group: "merge",
      what: `${what}, CPU time`,
      value: median(mergesCpu),
      unit: "ms",
      baseline: { label: "raw replay (sync fs calls)", value: median(replaysCpu) },
      // Each merge is paired with the replay right after it, and the median pair counts.
      ratio: paired(mergesCpu, replaysCpu),
      target: { on: "ratio", op: "<=", limit: 1.5 },
      note: `median of ${merges.length} paired ratios (${list(mergesCpu, replaysCpu)}); ${ioText}; the merge's own I/O recorded in order and replayed with readSync/writeSync/fdatasyncSync (no event-loop round trips); layout written by dmsnap's builder`,
    }),
    makeRow({
      id: "merge-1m-wall",
      group: "merge",
      what: `${what}, wall clock`,
      value: median(merges),
      unit: "ms",
      baseline: { label: "raw replay (sync fs calls)", value: median(replays) },
      ratio: paired(merges, replays),
      note: `paired ratios ${list(merges, replays)}: the wall clock on this shared machine includes waiting for a core`,
    }),
  );
}

try {
  if (run.includes("commit")) await benchCommit();
  if (run.includes("lookups")) benchLookups();
  if (run.includes("merge")) await benchMerge();
} finally {
  await fs.rm(dir, { recursive: true, force: true });
}
await emit(rows);
