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
import { compareWithPrevious, formatTable, makeRow, median, meets, mergeRuns, summary } from "./lib.mjs";
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
    expect(summary(rows)).toEqual({ met: 1, missed: 1, missedIds: ["x"] });
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
