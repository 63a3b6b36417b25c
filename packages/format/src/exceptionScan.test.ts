/**
 * The checker's per-exception tests in bounded memory (exceptionScan.ts)
 * against a naive oracle written here from docs/format.md: a Map of every
 * value seen, one entry at a time. The images are our own writer's
 * (buildCow), with repeats in both columns, metadata and out-of-device new
 * chunks and numbers past 2^32; the scan runs with its default caps and
 * with tiny ones, so the bitmap, the hashed extra passes and the mix of both
 * must all give the oracle's findings, counts and chunks in use.
 */
import { describe, expect, it } from "vitest";
import { buildCow } from "./build.js";
import { diagnose, type DiagnoseOptions } from "./diagnose.js";
import { MapRaster } from "./mapSvg.js";
import { bytesReader } from "./reader.js";

interface Expected {
  findings: Array<{ code: string; index: number; area: number; chunk: number; seen?: number }>;
  counts: Record<string, number>;
  used: number[];
  unreferenced: number;
}

/** The oracle: every entry in order, a Map per column. */
function oracle(pairs: Array<[number, number]>, chunkSize: number, chunks: number, originChunks: number, maxPerCode: number): Expected {
  const perArea = chunkSize * 32;
  const isMeta = (c: number): boolean => c === 1 || (c - 1) % (perArea + 1) === 0;
  const firstOld = new Map<number, number>();
  const firstNew = new Map<number, number>();
  const all: Expected["findings"] = [];
  const used = new Set<number>();
  let maxNew = -1;
  pairs.forEach(([o, n], i) => {
    const at = { index: i % perArea, area: Math.floor(i / perArea), chunk: n };
    if (firstOld.has(o)) all.push({ code: "DUPLICATE_OLD_CHUNK", ...at, seen: firstOld.get(o)! });
    else firstOld.set(o, i);
    if (firstNew.has(n)) all.push({ code: "DUPLICATE_NEW_CHUNK", ...at, seen: firstNew.get(n)! });
    else firstNew.set(n, i);
    if (isMeta(n)) all.push({ code: "NEW_CHUNK_IS_METADATA", ...at });
    if (n >= chunks) all.push({ code: "NEW_CHUNK_BEYOND_DEVICE", ...at });
    if (o >= originChunks) all.push({ code: "OLD_CHUNK_BEYOND_ORIGIN", ...at });
    if (n < chunks && !isMeta(n)) used.add(n);
    maxNew = Math.max(maxNew, n);
  });
  const counts: Record<string, number> = {};
  const findings: Expected["findings"] = [];
  for (const f of all) {
    counts[f.code] = (counts[f.code] ?? 0) + 1;
    if (counts[f.code]! <= maxPerCode) findings.push(f);
  }
  let nextFree = Math.max(2, maxNew + 1);
  if (isMeta(nextFree)) nextFree++;
  let dataBelow = 0;
  for (let c = 2; c < Math.min(nextFree, chunks); c++) if (!isMeta(c)) dataBelow++;
  return { findings, counts, used: [...used].sort((a, b) => a - b), unreferenced: dataBelow - used.size };
}

/** Deterministic pseudo-random numbers. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
}

function hostile(seed: number, count: number, chunkSize: number): { bytes: Uint8Array; pairs: Array<[number, number]>; chunks: number } {
  const r = lcg(seed);
  const chunks = Math.floor(count * 1.3) + 40;
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < count; i++) {
    let o = r(count * 2);
    let n = 2 + r(chunks + 20);
    if (r(10) === 0) o = 2 ** 32 + r(40); // past 2^32 and past any small cap, with repeats
    if (r(25) === 0) o = 2 ** 40 + r(5);
    if (r(30) === 0) n = 2 ** 33 + r(30);
    if (r(40) === 0) n = 4294967295 - r(3);
    pairs.push([o, n]);
  }
  const built = buildCow({ chunkSize, exceptions: pairs, deviceChunks: chunks });
  return { bytes: built.bytes, pairs: built.pairs, chunks };
}

async function run(bytes: Uint8Array, options: DiagnoseOptions) {
  const raster = new MapRaster();
  const d = await diagnose(bytesReader(bytes), { ...options, keepEntries: false, usedChunks: raster });
  const entryCodes = new Set(["DUPLICATE_OLD_CHUNK", "DUPLICATE_NEW_CHUNK", "NEW_CHUNK_IS_METADATA", "NEW_CHUNK_BEYOND_DEVICE", "OLD_CHUNK_BEYOND_ORIGIN"]);
  const findings = d.findings
    .filter((f) => entryCodes.has(f.code))
    .map((f) => {
      const m = /entries (\d+) and (\d+)/.exec(f.message);
      const out: Expected["findings"][number] = { code: f.code, index: f.location.index!, area: f.location.area!, chunk: f.location.chunk! };
      if (m) {
        expect(Number(m[2])).toBe(f.location.area! * raster.chunkSize * 32 + f.location.index!);
        out.seen = Number(m[1]);
      }
      return out;
    });
  const counts = Object.fromEntries(Object.entries(d.counts).filter(([c]) => entryCodes.has(c)));
  const unreferenced = d.counts.UNREFERENCED_CHUNKS ? Number(/^(\d+)/.exec(d.findings.find((f) => f.code === "UNREFERENCED_CHUNKS")!.message)![1]) : 0;
  return { findings, counts, unreferenced, raster, d };
}

/** The oracle's chunks in use, counted per cell of `raster`. */
function cellsOf(used: number[], raster: MapRaster): number[] {
  const cells = new Array<number>(raster.used.length).fill(0);
  for (const c of used) cells[Math.floor(c / raster.perCell)]!++;
  return cells;
}

describe("per-exception tests in bounded memory", () => {
  const limitsCases: Array<[string, DiagnoseOptions["limits"]]> = [
    ["default caps (numbers past 2^28 take the hashed passes)", undefined],
    ["a 64-bit bitmap and 3-number partitions (almost everything in extra passes)", { bitmapBits: 64, partitionEntries: 3 }],
    ["a 4096-bit bitmap and 50-number partitions (a mix)", { bitmapBits: 4096, partitionEntries: 50 }],
  ];
  for (const [name, limits] of limitsCases) {
    it(`matches the oracle with ${name}`, async () => {
      for (const [seed, count, cs, maxPerCode, originChunks] of [
        [1, 50, 1, 20, Infinity],
        [2, 700, 1, 3, 500],
        [3, 3000, 2, 20, 4000],
        [4, 3000, 1, 1e9, Infinity],
        [5, 1, 8, 20, Infinity],
      ] as const) {
        const { bytes, pairs, chunks } = hostile(seed, count, cs);
        const want = oracle(pairs, cs, chunks, originChunks, maxPerCode);
        const originBytes = originChunks === Infinity ? undefined : originChunks * cs * 512;
        const got = await run(bytes, { maxPerCode, ...(originBytes === undefined ? {} : { originBytes }), ...(limits ? { limits } : {}) });
        expect(got.findings, `seed ${seed}`).toEqual(want.findings);
        expect(got.counts, `seed ${seed}`).toEqual(want.counts);
        expect(Object.keys(got.counts), `seed ${seed}: counts in order of first entry`).toEqual(Object.keys(want.counts));
        expect(got.unreferenced, `seed ${seed}`).toBe(want.unreferenced);
        expect([...got.raster.used], `seed ${seed}`).toEqual(cellsOf(want.used, got.raster));
        expect(got.findings.length, `seed ${seed}: the oracle found something to compare`).toBeGreaterThan(count > 10 ? 2 : -1);
      }
    });
  }

  it("matches the oracle at the edges of the old-chunk bitmap: 0, the last number below its cap, the cap, past 2^32", async () => {
    // Old chunks that repeat at both ends of the bitmap and just past it (the
    // hashed passes), far apart in entry order, among random ones.
    const edge = [0, 2 ** 28 - 1, 2 ** 28, 2 ** 32 + 1];
    const r = lcg(9);
    const olds: number[] = [];
    for (let i = 0; i < 600; i++) olds.push(i % 97 === 0 ? edge[(i / 97) % 4]! : 1 + r(5000));
    const pairs = olds.map((o, i): [number, number] => [o, 2 + i + Math.floor(i / 32)]);
    const built = buildCow({ chunkSize: 1, exceptions: pairs, deviceChunks: 800 });
    for (const limits of [undefined, { bitmapBits: 2 ** 12, partitionEntries: 7 }]) {
      const want = oracle(built.pairs, 1, 800, Infinity, 1000);
      const got = await run(built.bytes, { maxPerCode: 1000, ...(limits ? { limits } : {}) });
      expect(got.findings).toEqual(want.findings);
      expect(got.counts).toEqual(want.counts);
      expect(want.counts.DUPLICATE_OLD_CHUNK).toBeGreaterThan(3);
      expect(got.findings.filter((f) => f.code === "DUPLICATE_OLD_CHUNK" && edge.includes(built.pairs[f.area * 32 + f.index]![0])).length).toBe(3);
    }
  });

  it("matches the oracle on areas of consecutive new chunks (the word-at-a-time path) and on areas that break it", async () => {
    // chunkSize 2: 64 entries an area, areas at chunks 1, 66, 131, ...; each
    // area's entries normally name the 64 data chunks after it, in order.
    const cs = 2;
    const perArea = 64;
    const stride = perArea + 1;
    const areas = 40;
    const deviceChunks = 2 + areas * stride; // room for the terminating area 40, at chunk 2601
    const r = lcg(11);
    const pairs: Array<[number, number]> = [];
    for (let a = 0; a < areas; a++) {
      let firstNew = 2 + a * stride;
      if (a === 9) firstNew = 2 + 3 * stride; // area 3's chunks again: the whole run repeats
      if (a === 14) firstNew = 2 + 12 * stride + 5; // overlaps the end of area 12's run, then runs into area 13's metadata chunk
      if (a === 20) firstNew = 2 + 17 * stride + 40; // the last 24 chunks of area 17's run, area 18's metadata chunk, then area 18's first 39
      if (a === 38) firstNew = deviceChunks - 12; // over area 40's chunk and past the device's end
      for (let k = 0; k < perArea; k++) {
        let n = firstNew + k;
        if (a === 25 && k === 30) n = 2 + 25 * stride + 31; // one chunk twice inside an area: not consecutive
        if (a === 30 && k === 63) n = 2 ** 33; // a huge one at the end
        const o = a === 33 ? 2 ** 30 + k : r(3000); // area 33: old chunks past the default bitmap
        pairs.push([o, n]);
      }
    }
    const built = buildCow({ chunkSize: cs, exceptions: pairs, deviceChunks });
    for (const limits of [undefined, { bitmapBits: 64, partitionEntries: 5 }, { bitmapBits: 1000, partitionEntries: 100 }]) {
      for (const originChunks of [Infinity, 2000]) {
        const want = oracle(built.pairs, cs, deviceChunks, originChunks, 10_000);
        const originBytes = originChunks === Infinity ? undefined : originChunks * cs * 512;
        const got = await run(built.bytes, { maxPerCode: 10_000, ...(originBytes === undefined ? {} : { originBytes }), ...(limits ? { limits } : {}) });
        expect(got.findings).toEqual(want.findings);
        expect(got.counts).toEqual(want.counts);
        expect(got.unreferenced).toBe(want.unreferenced);
        expect([...got.raster.used]).toEqual(cellsOf(want.used, got.raster));
        // Each kind of damage is there to be found.
        expect(want.counts.DUPLICATE_NEW_CHUNK).toBeGreaterThan(64 + 59 + 24);
        expect(want.counts.NEW_CHUNK_IS_METADATA).toBe(3);
        expect(want.counts.NEW_CHUNK_BEYOND_DEVICE).toBeGreaterThan(1);
      }
    }
  });

  it("keeps the entries for callers that want them (the explorer), with the same findings", async () => {
    const { bytes } = hostile(7, 500, 1);
    const kept = await diagnose(bytesReader(bytes), { maxPerCode: 50 });
    const streamed = await diagnose(bytesReader(bytes), { maxPerCode: 50, keepEntries: false });
    expect(kept.image!.exceptions.count).toBe(500);
    expect(streamed.image!.exceptions.count).toBe(0);
    expect(streamed.image!.exceptionCount).toBe(500);
    expect(streamed.findings).toEqual(kept.findings);
    expect(streamed.counts).toEqual(kept.counts);
  });
});
