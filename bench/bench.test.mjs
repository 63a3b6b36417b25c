// The pure parts of `pnpm bench` (no timing here: benchmarks never run in CI):
// the met/MISSED verdict, the previous-run comparison, the image generator, the
// raw replay, and the naive Python reader (the dump --json baseline) against
// the expected exceptions of conformance cases, kernel-made ones among them.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { geometry, layout, writeCow } from "./cow.mjs";
import { compareWithPrevious, formatTable, judge, makeRow, median, medianBoundRank, meets, mergeRuns, parseTimes, stats, summary } from "./lib.mjs";
import { buildPeer } from "./peer.mjs";
import { FLUSH, OpLog, READ, recording, replaySync, WRITE } from "./recording.mjs";

const root = new URL("..", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "dmsnap-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("verdicts", () => {
  it("judges a ratio target and a value target, boundaries included", () => {
    const r = makeRow({ id: "a", value: 110, unit: "ms", baseline: { label: "cp", value: 100 }, target: { on: "ratio", op: "<=", limit: 1.1 } });
    expect(r.ratio).toBeCloseTo(1.1);
    expect(r.met).toBe(true);
    expect(makeRow({ id: "a", value: 111, unit: "ms", baseline: { label: "cp", value: 100 }, target: { on: "ratio", op: "<=", limit: 1.1 } }).met).toBe(false);
    expect(makeRow({ id: "b", value: 64, unit: "MiB", target: { on: "value", op: "<", limit: 64 } }).met).toBe(false);
    expect(makeRow({ id: "b", value: 63.9, unit: "MiB", target: { on: "value", op: "<", limit: 64 } }).met).toBe(true);
    expect(makeRow({ id: "c", value: 49.9, unit: "M/s", target: { on: "value", op: ">=", limit: 50 } }).met).toBe(false);
    expect(makeRow({ id: "c", value: 50, unit: "M/s", target: { on: "value", op: ">=", limit: 50 } }).met).toBe(true);
  });

  it("a missing measurement is never met", () => {
    expect(meets(NaN, "<=", 1)).toBe(false);
    expect(meets(Infinity, "<", 64)).toBe(false);
    expect(makeRow({ id: "d", value: NaN, unit: "", target: { on: "value", op: ">=", limit: 1 } }).met).toBe(false);
    expect(() => meets(1, "~", 1)).toThrow(/operator/);
  });

  it("counts met and missed; rows without a target are information", () => {
    const rows = [makeRow({ id: "x", value: 1, target: { on: "value", op: ">=", limit: 2 } }), makeRow({ id: "y", value: 3, target: { on: "value", op: ">=", limit: 2 } }), makeRow({ id: "z", value: 3 })];
    expect(summary(rows)).toEqual({ met: 1, missed: 1, missedIds: ["x"], inconclusive: 0, inconclusiveIds: [] });
    const table = formatTable(rows, { firstRun: true });
    expect(table).toMatch(/^MISSED .*x/m);
    expect(table).toMatch(/^met .*y/m);
    expect(table).toMatch(/^info/m);
    expect(table).toContain("first run");
  });

  it("median of odd and even counts", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe("verdicts on alternated runs (met / MISSED / inconclusive)", () => {
  const goal = { op: "<=", limit: 1.1 };
  it("min, median, max and spread of a sample", () => {
    expect(stats([120, 100, 80])).toEqual({ n: 3, min: 80, median: 100, max: 120, lo: 80, hi: 120, spread: 0.4 });
  });
  it("the median's 95 % interval: ranks from binomial tables, min and max up to 8 runs", () => {
    // P(Bin(n, 1/2) <= k - 1) <= 2.5 %: n = 8: P(X <= 0) = 1/256, P(X <= 1) = 9/256 = 3.5 % -> k = 1;
    // n = 9: P(X <= 1) = 10/512 = 1.95 % -> 2; n = 15: P(X <= 3) = 576/32768 = 1.76 %, P(X <= 4) = 5.9 % -> 4; n = 20: 6
    expect([3, 7, 8, 9, 11, 12, 15, 20].map(medianBoundRank)).toEqual([1, 1, 1, 2, 2, 3, 4, 6]);
    // 15 runs (node -e 0 on 2026-12-08), hiccups among them: the interval is x(4)..x(12) = 76..85, not 74..123
    const node = [76, 98, 77, 74, 85, 91, 76, 123, 76, 78, 75, 76, 75, 81, 77].sort((a, b) => a - b);
    expect(node.slice(3, 12)).toEqual([76, 76, 76, 76, 77, 77, 78, 81, 85]);
    const s = stats([76, 98, 77, 74, 85, 91, 76, 123, 76, 78, 75, 76, 75, 81, 77]);
    expect(s).toMatchObject({ n: 15, min: 74, max: 123, median: 77, lo: 76, hi: 85 });
    expect(s.spread).toBeCloseTo(9 / 77, 10);
    // the same runs judged: ratio 85/77 = 1.104 against 1.3 (margin 15 % > 11.7 %): met, where max - min (64 %) said inconclusive
    const dmsnap = [87, 85, 84, 94, 85, 84, 88, 100, 115, 84, 96, 107, 85, 85, 84];
    expect(judge(dmsnap, [76, 98, 77, 74, 85, 91, 76, 123, 76, 78, 75, 76, 75, 81, 77], { op: "<=", limit: 1.3 }).verdict).toBe("met");
  });
  it("met: the median ratio is under the goal and the baseline is steadier than the margin", () => {
    // ratio 105 / 101 = 1.0396; margin (1.1 - 1.0396) / 1.1 = 5.5 %; baseline spread 2 / 101 = 2 %
    const j = judge([100, 105, 110], [100, 101, 102], goal);
    expect(j.verdict).toBe("met");
    expect(j.ratio).toBeCloseTo(105 / 101, 10);
    expect(j.margin).toBeCloseTo((1.1 - 105 / 101) / 1.1, 10);
    expect(j.baseline).toMatchObject({ min: 100, median: 101, max: 102 });
  });
  it("MISSED: over the goal by more than the baseline's spread", () => {
    // ratio 131 / 101 = 1.297; margin 17.9 % > spread 2 %
    expect(judge([130, 131, 132], [100, 101, 102], goal).verdict).toBe("MISSED");
    // a clear miss stays MISSED under a noisy baseline: ratio 3, margin 173 % > spread 100 %
    expect(judge([300, 300, 300], [60, 100, 160], goal).verdict).toBe("MISSED");
  });
  it("inconclusive: the baseline's own spread is wider than the margin, whichever side of the goal", () => {
    // baseline 60..160 around 100: spread 100 %; ratio 1.05 (margin 4.5 %) and 1.15 (margin 4.5 %)
    expect(judge([100, 105, 110], [60, 100, 160], goal).verdict).toBe("inconclusive");
    expect(judge([110, 115, 120], [60, 100, 160], goal).verdict).toBe("inconclusive");
    // too few pairs
    expect(judge([100, 100], [100, 100], { ...goal, minPairs: 7 }).verdict).toBe("inconclusive");
    // a ">=" goal: ratio 0.52 against 0.5 (margin 4 %), baseline spread 10 %
    expect(judge([52, 52, 52], [95, 100, 105], { op: ">=", limit: 0.5 }).verdict).toBe("inconclusive");
    expect(judge([52, 52, 52], [99, 100, 101], { op: ">=", limit: 0.5 }).verdict).toBe("met");
  });
  it("CPU time from bash's times: the children's line, user + system", () => {
    expect(parseTimes("0m0.002s 0m0.000s\n0m0.075s 0m0.012s\n")).toBeCloseTo(87, 6);
    expect(parseTimes("0m0.000s 0m0.000s\n1m2.500s 0m0.250s")).toBeCloseTo(62750, 6);
    expect(parseTimes("no times here")).toBeNaN();
  });
  it("a row made from samples: medians, the verdict in the table, counted as not met", () => {
    const r = makeRow({ id: "e", what: "export", unit: "ms", samples: { value: [100, 105, 110], baseline: [60, 100, 160] }, baseline: { label: "cp + fsync" }, target: { on: "ratio", ...goal } });
    expect(r.value).toBe(105);
    expect(r.baseline.value).toBe(100);
    expect(r.met).toBe(false);
    expect(r.verdict).toBe("inconclusive");
    const ok = makeRow({ id: "f", unit: "ms", samples: { value: [100, 105, 110], baseline: [100, 101, 102] }, baseline: { label: "cp" }, target: { on: "ratio", ...goal } });
    expect(summary([r, ok])).toEqual({ met: 1, missed: 0, missedIds: [], inconclusive: 1, inconclusiveIds: ["e"] });
    const table = formatTable([r], { firstRun: true });
    expect(table).toMatch(/^inconclusive \| export/m);
    expect(table).toContain("105 ms [100-110, n=3]");
    expect(table).toContain("cp + fsync 100 ms [60.0-160, n=3]");
    expect(table).toContain("baseline spread 100 % vs margin to the goal 5 %");
  });
});

describe("previous run", () => {
  const rows = [makeRow({ id: "t", value: 200, unit: "ms" }), makeRow({ id: "u", value: 5, unit: "MiB" })];
  it("first run: no previous figures", () => {
    const c = compareWithPrevious(rows, null);
    expect(c.every((r) => r.previous === null)).toBe(true);
    expect(formatTable(c, { firstRun: true })).toContain("first run");
  });
  it("ratio against the previous value of the same row; a row of another unit or a new row has none", () => {
    const c = compareWithPrevious(rows, { at: "then", rows: [{ id: "t", value: 100, unit: "ms" }, { id: "u", value: 5, unit: "KiB" }] });
    expect(c[0].change).toBe(2);
    expect(c[0].previous.value).toBe(100);
    expect(c[1].previous).toBeNull();
    const table = formatTable(c, { firstRun: false });
    expect(table).toContain("2.00x of 100 ms");
    expect(table).toContain("new row");
  });
  it("a filtered run replaces its rows and keeps the others", () => {
    const next = mergeRuns({ at: "then", rows: [{ id: "t", value: 100, unit: "ms" }, { id: "old", value: 1, unit: "ms" }] }, compareWithPrevious(rows, null), "now");
    expect(next.at).toBe("now");
    expect(next.rows.map((r) => [r.id, r.value])).toEqual([["t", 200], ["old", 1], ["u", 5]]);
    expect(next.rows[0]).not.toHaveProperty("previous");
  });
});

function naive(path) {
  return JSON.parse(execFileSync("python3", [join(root, "bench/naive_reader.py"), path], { encoding: "utf8" }));
}

describe("naive Python reader (the dump --json baseline)", () => {
  // Kernel-made cases (their expected exceptions were confirmed by the kernel) and an engine-made multi-area one.
  for (const id of ["kernel-multi-area-1s", "kernel-snap-writes-8s", "kernel-invalidated-1s", "kernel-new-empty-1s", "engine-mixed-random-8s"]) {
    it(`reads ${id} as the case expects`, () => {
      const c = JSON.parse(readFileSync(join(root, "conformance/cases", id, "case.json"), "utf8"));
      const path = join(dir, `${id}.img`);
      writeFileSync(path, gunzipSync(readFileSync(join(root, "conformance/cases", id, c.files.cow))));
      const got = naive(path);
      expect(got.state).toBe(c.expected.state);
      expect(got.chunkSize).toBe(c.expected.chunkSize);
      expect(got.exceptions).toEqual(c.expected.exceptions);
    });
  }
});

// Hand-laid images for the native peer: every byte placed here by hand (chunk
// size 1: chunk k starts at byte 512 k; E = 32 entries per area; area a at chunk
// 1 + 33 a), and the expected JSON written out by hand from docs/dump-json.md.
const SNAP = 0x70416e53;
function handLaid(name, { valid = 1, chunks, areas }) {
  const b = Buffer.alloc(chunks * 512);
  b.writeUInt32LE(SNAP, 0);
  b.writeUInt32LE(valid, 4);
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(1, 12);
  for (const [chunk, entries, extra] of areas) {
    entries.forEach(([o, n], i) => {
      b.writeBigUInt64LE(BigInt(o), chunk * 512 + 16 * i);
      b.writeBigUInt64LE(BigInt(n), chunk * 512 + 16 * i + 8);
    });
    if (extra) b[chunk * 512 + 16 * entries.length + extra] = 9; // a stale byte after the terminator
  }
  const path = join(dir, name);
  writeFileSync(path, b);
  return path;
}
// Area 0 full: origin chunk 100 + i in data chunk 2 + i (hand-picked: 32 entries); area 1 (chunk 34): three more.
const area0 = Array.from({ length: 32 }, (_, i) => [100 + i, 2 + i]);
const twoAreas = { chunks: 40, areas: [[1, area0], [34, [[7, 35], [2 ** 40, 36], [5, 38]]]] };
const twoAreasJson =
  '{"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},"state":"valid","chunkSize":1,"exceptionsPerArea":32,"nextFree":39,' +
  '"usage":{"totalSectors":40,"allocatedSectors":39,"metadataSectors":3},"currentArea":1,"deviceBytes":20480,"status":"39/40 3","exceptions":[' +
  "[100,2],[101,3],[102,4],[103,5],[104,6],[105,7],[106,8],[107,9],[108,10],[109,11],[110,12],[111,13],[112,14],[113,15],[114,16],[115,17]," +
  "[116,18],[117,19],[118,20],[119,21],[120,22],[121,23],[122,24],[123,25],[124,26],[125,27],[126,28],[127,29],[128,30],[129,31],[130,32],[131,33]," +
  '[7,35],[1099511627776,36],[5,38]]}\n';
// One area; the highest new chunk is 33, so the free cursor 34 lands on area 1 and moves to 35.
const skip = { chunks: 40, areas: [[1, [[9, 2], [4, 33]]]] };
const skipJson =
  '{"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},"state":"valid","chunkSize":1,"exceptionsPerArea":32,"nextFree":35,' +
  '"usage":{"totalSectors":40,"allocatedSectors":35,"metadataSectors":2},"currentArea":0,"deviceBytes":20480,"status":"35/40 2","exceptions":[[9,2],[4,33]]}\n';
const invalidJson =
  '{"header":{"magic":1883336275,"valid":0,"version":1,"chunkSize":1},"state":"invalid","chunkSize":1,"exceptionsPerArea":32,"nextFree":2,' +
  '"usage":{"totalSectors":40,"allocatedSectors":2,"metadataSectors":2},"currentArea":0,"deviceBytes":20480,"status":"Invalid","exceptions":[]}\n';
// Damage for the check mode: origin chunk 5 three times, COW chunk 3 twice, chunk 34 (area 1) and 20, 34 past the
// device's 16 chunks, a stale byte after the terminator; chunks 2..15 below the cursor not named: 4, 5, 8..15 (10).
const damaged = { chunks: 16, areas: [[1, [[5, 2], [5, 3], [7, 3], [9, 6], [5, 7], [11, 34], [12, 20]], 3]] };
const damagedCounts = { ENTRIES_AFTER_TERMINATOR: 1, DUPLICATE_OLD_CHUNK: 2, DUPLICATE_NEW_CHUNK: 1, NEW_CHUNK_IS_METADATA: 1, NEW_CHUNK_BEYOND_DEVICE: 2, UNREFERENCED_CHUNKS: 1 };

let peer = null;
let noCompiler = null;
try {
  peer = buildPeer({ outDir: join(dir, "peer") });
} catch (e) {
  if (!/C compiler/.test(e.message)) throw e;
  noCompiler = e.message;
}
const run = (argv) => {
  try {
    return { out: execFileSync(argv[0], argv.slice(1), { encoding: "utf8" }), code: 0 };
  } catch (e) {
    return { out: e.stdout, code: e.status };
  }
};
const dmsnapBin = join(root, "packages/cli/dist/bin.js");

describe("native peer build", () => {
  it("without a compiler: a message that says what to install", () => {
    expect(() => buildPeer({ cc: "dmsnap-no-such-cc", outDir: join(dir, "no-cc") })).toThrow(/needs a C compiler: 'dmsnap-no-such-cc' was not found \(Debian: apt-get install gcc; or set CC\)/);
  });
});

describe.skipIf(!peer)(`native peer (bench/peer/cowpeer.c)${noCompiler ? `: skipped, ${noCompiler}` : ""}`, () => {
  for (const [name, image, expected] of [
    ["two areas, a chunk number of 2^40", twoAreas, twoAreasJson],
    ["the free cursor skips a metadata area", skip, skipJson],
    ["an invalidated COW", { ...twoAreas, valid: 0 }, invalidJson],
  ]) {
    it(`dump: ${name}, the JSON written by hand, and the same bytes as dmsnap dump --json`, () => {
      const path = handLaid(`${name.replace(/\W+/g, "-")}.cow`, image);
      expect(run([peer, "dump", path])).toEqual({ out: expected, code: 0 });
      expect(run([process.execPath, dmsnapBin, "dump", path, "--json"])).toEqual({ out: expected, code: 0 });
    });
  }
  it("dump: refusals as error objects, exit 1", () => {
    const path = join(dir, "bad-magic.cow");
    writeFileSync(path, Buffer.alloc(2048, 0x41));
    const r = run([peer, "dump", path]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).error.code).toBe("BAD_MAGIC");
    const truncated = handLaid("truncated.cow", { chunks: 34, areas: [[1, area0]] }); // area 1 (chunk 34) is past the end
    expect(JSON.parse(run([peer, "dump", truncated]).out).error.code).toBe("TRUNCATED");
  });
  it("check: finds each hand-placed problem, counted as dmsnap check counts them", () => {
    const path = handLaid("damaged.cow", damaged);
    const got = run([peer, "check", path]);
    expect(got.code).toBe(1);
    expect(JSON.parse(got.out)).toEqual({ state: "valid", exceptions: 7, counts: damagedCounts, unreferencedChunks: 10 });
    expect(JSON.parse(run([process.execPath, dmsnapBin, "check", path, "--json"]).out).counts).toEqual(damagedCounts);
    const clean = run([peer, "check", handLaid("clean.cow", twoAreas)]);
    // chunk 37 (below the cursor 39) is named by no entry
    expect(JSON.parse(clean.out)).toEqual({ state: "valid", exceptions: 35, counts: { UNREFERENCED_CHUNKS: 1 }, unreferencedChunks: 1 });
  });
});

describe("benchmark images (dmsnap's builder)", () => {
  it("random and sequential layouts pick the same origin chunks, each once", () => {
    const seq = layout("sequential", { originChunks: 1000, fraction: 0.3, seed: 9 });
    const rnd = layout("random", { originChunks: 1000, fraction: 0.3, seed: 9 });
    expect(seq.length).toBe(300);
    expect([...rnd].sort((a, b) => a - b)).toEqual([...seq]);
    expect([...rnd]).not.toEqual([...seq]);
    expect(new Set(seq).size).toBe(300);
    expect(seq.every((c, i) => c < 1000 && (i === 0 || c > seq[i - 1]))).toBe(true);
  });

  it("writeCow: the naive reader finds every exception in commit order, data chunks after their area", () => {
    for (const chunkSize of [1, 8]) {
      const olds = layout("random", { originChunks: 900, count: 600, seed: chunkSize });
      const path = join(dir, `gen-${chunkSize}.cow`);
      const g = writeCow(path, { chunkSize, olds });
      const got = naive(path);
      expect(got.exceptions.length).toBe(600);
      expect(got.exceptions.map((e) => e[0])).toEqual([...olds]);
      // chunk 0 header, chunk 1 area 0, its data chunks 2.. (the format's layout, written out by hand)
      expect(got.exceptions[0][1]).toBe(2);
      const E = 32 * chunkSize;
      expect(got.exceptions[E - 1][1]).toBe(E + 1);
      expect(got.exceptions[E][1]).toBe(E + 3);
      expect(g.deviceBytes).toBe(geometry(chunkSize, 600).chunks * chunkSize * 512);
    }
  });
});

describe("raw replay", () => {
  it("records reads, writes and flush flags in order and replays a copy with plain fs calls", async () => {
    const log = new OpLog(2);
    const dev = { size: 4096, logicalBlockSize: 512, read: async () => new Uint8Array(4), write: async () => {}, flush: async () => {}, close: async () => {} };
    const a = recording(dev, log, 0);
    const b = recording(dev, log, 1);
    await a.read(8, 4);
    await b.write(16, new Uint8Array(4), { flushBefore: true, fua: true });
    await a.flush();
    expect(Array.from(log.kind.subarray(0, log.n))).toEqual([READ, FLUSH, WRITE, FLUSH, FLUSH]);
    expect(Array.from(log.dev.subarray(0, log.n))).toEqual([0, 1, 1, 1, 0]);
    expect(log.counts()).toMatchObject({ reads: 1, writes: 1, flushes: 3, readBytes: 4, writeBytes: 4 });

    const src = join(dir, "src");
    const dst = join(dir, "dst");
    writeFileSync(src, Buffer.from("....ABCD...."));
    writeFileSync(dst, Buffer.alloc(24, 0x2e));
    const { openSync, closeSync } = await import("node:fs");
    const fds = [openSync(src, "r+"), openSync(dst, "r+")];
    replaySync(log, fds);
    fds.forEach((fd) => closeSync(fd));
    expect(readFileSync(dst, "latin1").slice(16, 20)).toBe("....");
    const copy = new OpLog();
    copy.push(READ, 0, 4, 4);
    copy.push(WRITE, 1, 16, 4);
    const fds2 = [openSync(src, "r+"), openSync(dst, "r+")];
    replaySync(copy, fds2);
    fds2.forEach((fd) => closeSync(fd));
    expect(readFileSync(dst, "latin1").slice(16, 20)).toBe("ABCD");
  });
});
