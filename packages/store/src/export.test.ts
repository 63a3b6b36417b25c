/**
 * export: the view written by the kernel copy + COW overlay, and by the
 * streamed path block devices take, against a view computed here by the
 * definition (chunk c from the COW chunk of the FIRST entry naming c, else
 * from the origin; docs/format.md "Snapshot view"), over COW images built
 * byte by byte in this file (our own data, not the kernel's: the kernel's
 * answers are the conformance cases' view hashes, `pnpm conformance`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportSnapshot, type ExportSink } from "./export.js";
import { checkView } from "./exportCheck.js";
import { FileDevice } from "./fileDevice.js";
import { Rng } from "./rng.js";
import { WARM_MIN_BYTES } from "./exportWarm.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmsnap-export-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Spec {
  chunkSize: number;
  originBytes: number;
  /** [old_chunk, new_chunk] in on-disk order. */
  entries: Array<[number, number]>;
  cowChunks: number;
}

/** A COW image by the format's layout: header, areas of 32 * chunkSize entries at 1 + a * (E + 1), random data everywhere else. */
function buildImage(spec: Spec, rng: Rng): Uint8Array {
  const cb = spec.chunkSize * 512;
  const perArea = spec.chunkSize * 32;
  const img = rng.bytes(spec.cowChunks * cb);
  const v = new DataView(img.buffer);
  img.fill(0, 0, cb);
  v.setUint32(0, 0x70416e53, true);
  v.setUint32(4, 1, true);
  v.setUint32(8, 1, true);
  v.setUint32(12, spec.chunkSize, true);
  const areas = Math.floor(spec.entries.length / perArea) + 1;
  for (let a = 0; a < areas; a++) img.fill(0, (1 + a * (perArea + 1)) * cb, (2 + a * (perArea + 1)) * cb);
  spec.entries.forEach(([o, n], i) => {
    const at = (1 + Math.floor(i / perArea) * (perArea + 1)) * cb + (i % perArea) * 16;
    v.setUint32(at, o % 2 ** 32, true);
    v.setUint32(at + 4, Math.floor(o / 2 ** 32), true);
    v.setUint32(at + 8, n % 2 ** 32, true);
    v.setUint32(at + 12, Math.floor(n / 2 ** 32), true);
  });
  return img;
}

/** The view by its definition: first entry wins; chunks past the origin's end are not part of it. */
function expectedView(spec: Spec, origin: Uint8Array, cow: Uint8Array): Uint8Array {
  const cb = spec.chunkSize * 512;
  const view = origin.slice();
  for (let c = 0; c * cb < origin.length; c++) {
    const e = spec.entries.find(([o]) => o === c);
    if (e) view.set(cow.subarray(e[1] * cb, e[1] * cb + Math.min(cb, origin.length - c * cb)), c * cb);
  }
  return view;
}

/** Data chunk i of the layout (skipping metadata areas). */
const dataChunk = (cs: number, i: number) => 2 + Math.floor(i / (cs * 32)) * (cs * 32 + 1) + (i % (cs * 32));

async function files(name: string, spec: Spec, seed: number) {
  const rng = new Rng(seed);
  const origin = rng.bytes(spec.originBytes);
  const cow = buildImage(spec, rng);
  const originPath = join(dir, `${name}.origin`);
  const cowPath = join(dir, `${name}.cow`);
  await writeFile(originPath, origin);
  await writeFile(cowPath, cow);
  return { origin, cow, originPath, cowPath };
}

/** A random-order layout: origin chunks picked at random, COW chunks in allocation order, as random origin writes leave them. */
function randomSpec(rng: Rng, chunkSize: number, originChunks: number, fraction: number, tail: number): Spec {
  const picked: number[] = [];
  for (let c = 0; c < originChunks - 1; c++) if (rng.chance(fraction)) picked.push(c);
  picked.push(originChunks - 1); // the partial last chunk comes from the COW
  for (let i = picked.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [picked[i], picked[j]] = [picked[j]!, picked[i]!];
  }
  const entries = picked.map((o, i): [number, number] => [o, dataChunk(chunkSize, i)]);
  const cowChunks = dataChunk(chunkSize, entries.length + chunkSize * 32) + 1;
  return { chunkSize, originBytes: (originChunks - 1) * chunkSize * 512 + tail, entries, cowChunks };
}

const variants = [
  { name: "origin order (the map fits)", kernelCopy: true, mapBytes: undefined },
  { name: "kernel copy + overlay", kernelCopy: true, mapBytes: 0 },
  { name: "streamed copy (block devices) + overlay", kernelCopy: false, mapBytes: 0 },
  // Background write-backs every 4 KiB run while the blocks are still being written: the bytes must not change.
  { name: "origin order, written back every 4 KiB", kernelCopy: true, mapBytes: undefined, flushEveryBytes: 4096 },
  { name: "streamed copy + overlay, written back every 4 KiB", kernelCopy: false, mapBytes: 0, flushEveryBytes: 4096 },
  // The spill sort (exportSpill.ts) at any count, windows of 4 KiB (several per 1 KiB chunks, the last partial), tiny buckets and blocks.
  { name: "spill sort", kernelCopy: true, mapBytes: 0, spill: { minChunks: 0, sizes: { windowBytes: 4096, bucketBytes: 64 * 1024, blockBytes: 8192, groupWindows: 16 } } },
  { name: "spill sort, one slot a bucket", kernelCopy: true, mapBytes: undefined, spill: { minChunks: 0, sizes: { windowBytes: 1 << 20, bucketBytes: 4096, blockBytes: 4096 } } },
];

describe.each(variants)("export, $name", ({ name: variant, kernelCopy, mapBytes, flushEveryBytes, spill }) => {
  const tag = variant.replace(/\W+/g, "-");
  const run = async (name: string, spec: Spec, seed: number, blockBytes?: number) => {
    const f = await files(`${name}-${tag}`, spec, seed);
    const output = join(dir, `${name}-${tag}.img`);
    const r = await exportSnapshot({ origin: f.originPath, cow: f.cowPath, output, kernelCopy, mapBytes, flushEveryBytes, spill, ...(blockBytes ? { blockBytes } : {}) });
    const got = new Uint8Array(await readFile(output));
    expect(got.length).toBe(spec.originBytes);
    expect(Buffer.compare(got, expectedView(spec, f.origin, f.cow))).toBe(0);
    // the inputs are untouched
    expect(Buffer.compare(new Uint8Array(await readFile(f.originPath)), f.origin)).toBe(0);
    expect(Buffer.compare(new Uint8Array(await readFile(f.cowPath)), f.cow)).toBe(0);
    return r;
  };

  it("a random-order layout over many areas, the last chunk partial and not whole sectors", async () => {
    const rng = new Rng(1);
    const spec = randomSpec(rng, 1, 3000, 0.3, 300 + 7);
    const r = await run("random", spec, 2);
    expect(r.cowChunks).toBe(spec.entries.length);
  });

  it("a sequential layout, read and written in runs (also with a buffer smaller than a run)", async () => {
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < 700; i++) entries.push([100 + i, dataChunk(2, i)]);
    const spec: Spec = { chunkSize: 2, originBytes: 1000 * 1024 - 512, entries, cowChunks: dataChunk(2, 800) };
    expect((await run("seq", spec, 3)).cowChunks).toBe(700);
    await run("seq-small", spec, 3, 4096);
  });

  it("a sequential layout with gaps (every third origin chunk), the COW chunks of a block read together", async () => {
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < 900; i++) entries.push([3 * i + (i % 7 === 0 ? 1 : 0), dataChunk(1, i)]);
    const spec: Spec = { chunkSize: 1, originBytes: 2700 * 512 - 300, entries, cowChunks: dataChunk(1, 1000) };
    expect((await run("gaps", spec, 5)).cowChunks).toBe(900);
    await run("gaps-small", spec, 5, 4096);
  });

  it("duplicates: the first entry is served, in one piece, in a run, across areas", async () => {
    const cs = 1;
    const entries: Array<[number, number]> = [];
    for (let i = 0; i < 80; i++) entries.push([(i * 7) % 90, dataChunk(cs, i)]);
    entries.push([7, dataChunk(cs, 80)]); // duplicate of entry 1, later area
    entries.push([14, dataChunk(cs, 81)], [15, dataChunk(cs, 82)], [16, dataChunk(cs, 83)]); // a run over a duplicate
    entries[5] = [3, dataChunk(cs, 5)];
    entries[6] = [3, dataChunk(cs, 6)]; // duplicate within one area, consecutive
    const spec: Spec = { chunkSize: cs, originBytes: 100 * 512, entries, cowChunks: dataChunk(cs, 100) };
    const r = await run("dup", spec, 4);
    expect(r.cowChunks).toBe(new Set(entries.map(([o]) => o).filter((o) => o < 100)).size);
  });

  it("entries past the origin's end are not part of the view; a blank COW exports the origin", async () => {
    const entries: Array<[number, number]> = [
      [5, dataChunk(8, 0)],
      [64, dataChunk(8, 1)],
      [2 ** 40, dataChunk(8, 2)],
    ];
    await run("beyond-origin", { chunkSize: 8, originBytes: 64 * 4096, entries, cowChunks: dataChunk(8, 3) }, 5);
    const rng = new Rng(6);
    const origin = rng.bytes(10 * 4096 + 3);
    await writeFile(join(dir, "blank.origin"), origin);
    await writeFile(join(dir, "blank.cow"), new Uint8Array(4 * 4096));
    const r = await exportSnapshot({ origin: join(dir, "blank.origin"), cow: join(dir, "blank.cow"), output: join(dir, "blank.img"), chunkSize: 8, kernelCopy, mapBytes });
    expect(r).toMatchObject({ state: "new", cowChunks: 0, bytes: origin.length });
    expect(Buffer.compare(new Uint8Array(await readFile(join(dir, "blank.img"))), origin)).toBe(0);
  });

  it("chunks larger than the buffer are copied in pieces", async () => {
    const entries: Array<[number, number]> = [
      [3, dataChunk(16, 1)],
      [1, dataChunk(16, 0)],
      [4, dataChunk(16, 2)],
    ];
    await run("big-chunks", { chunkSize: 16, originBytes: 4 * 8192 + 1000, entries, cowChunks: dataChunk(16, 3) }, 7, 4096);
  });

  it("a chunk mapped past the COW's end refuses with no output; shadowed by an earlier entry it is no refusal", async () => {
    const cs = 8;
    const cowChunks = dataChunk(cs, 10);
    const bad: Spec = { chunkSize: cs, originBytes: 32 * 4096, entries: [[2, dataChunk(cs, 0)], [9, cowChunks + 5], [4, dataChunk(cs, 1)]], cowChunks };
    const f = await files(`refuse-${tag}`, bad, 8);
    const outDir = await mkdtemp(join(dir, "refused-"));
    const output = join(outDir, "view.img");
    await expect(exportSnapshot({ origin: f.originPath, cow: f.cowPath, output, kernelCopy, mapBytes })).rejects.toMatchObject({ code: "NEW_CHUNK_BEYOND_DEVICE", message: expect.stringContaining("origin chunk 9") });
    expect(await readdir(outDir)).toEqual([]); // not even a temporary
    expect(Buffer.compare(new Uint8Array(await readFile(f.cowPath)), f.cow)).toBe(0);
    const shadowed: Spec = { ...bad, entries: [[9, dataChunk(cs, 0)], [9, cowChunks + 5], [4, dataChunk(cs, 1)]] };
    await run("shadowed", shadowed, 9);
  });

  it("a sink without a descriptor is written through its promises", async () => {
    const rng = new Rng(10);
    const spec = randomSpec(rng, 2, 500, 0.4, 1024);
    const f = await files(`sink-${tag}`, spec, 11);
    const outPath = join(dir, `sink-${tag}.img`);
    const h = await open(outPath, "w+");
    const sink: ExportSink = { write: (b, o, l, p) => h.write(b, o, l, p), sync: () => h.sync(), close: async () => {} };
    const origin = await FileDevice.open(f.originPath, { readOnly: true });
    const cow = await FileDevice.open(f.cowPath, { readOnly: true });
    const seen: number[] = [];
    try {
      await exportSnapshot({ origin: f.originPath, cow: f.cowPath, output: outPath, kernelCopy, mapBytes, opened: { origin, cow, output: sink } }, (done, total) => {
        expect(total).toBe(spec.originBytes);
        seen.push(done);
      });
    } finally {
      await h.close();
      await origin.close();
      await cow.close();
    }
    expect(Buffer.compare(new Uint8Array(await readFile(outPath)), expectedView(spec, f.origin, f.cow))).toBe(0);
    expect(seen[0]).toBe(0);
    expect(seen[seen.length - 1]).toBe(spec.originBytes);
    expect(seen.every((d, i) => i === 0 || d >= seen[i - 1]!)).toBe(true);
  });
});

describe("checkView", () => {
  it("counts, shadows and refuses in later bitmap windows as in the first, and with a map", async () => {
    const cs = 1;
    const entries: Array<[number, number]> = [
      [3, dataChunk(cs, 0)],
      [20, dataChunk(cs, 1)],
      [20, dataChunk(cs, 2)], // shadowed duplicate in window 2
      [37, dataChunk(cs, 3)],
      [3, 10_000], // shadowed, past the COW's end
    ];
    const spec: Spec = { chunkSize: cs, originBytes: 40 * 512, entries, cowChunks: dataChunk(cs, 10) };
    const f = await files("windows", spec, 12);
    const cow = await FileDevice.open(f.cowPath, { readOnly: true });
    try {
      for (const w of [8, 16, 1 << 26]) expect((await checkView(cow, spec.originBytes, {}, "c", { windowChunks: w })).cowChunks).toBe(3);
      const { map, cowChunks } = await checkView(cow, spec.originBytes, {}, "c", { mapBytes: 4 * 40 });
      expect(cowChunks).toBe(3);
      expect([...map!].flatMap((n, o) => (n ? [[o, n]] : []))).toEqual([[3, dataChunk(cs, 0)], [20, dataChunk(cs, 1)], [37, dataChunk(cs, 3)]]);
      expect((await checkView(cow, spec.originBytes, {}, "c", { mapBytes: 4 * 40 - 1 })).map).toBeNull();
    } finally {
      await cow.close();
    }
    entries.push([30, 10_000], [25, 10_001]); // unshadowed, in window 3: the lowest is named
    const g = await files("windows2", spec, 13);
    const cow2 = await FileDevice.open(g.cowPath, { readOnly: true });
    try {
      for (const o of [{ windowChunks: 8 }, { windowChunks: 16 }, {}, { mapBytes: 1 << 20 }]) await expect(checkView(cow2, spec.originBytes, {}, "c", o)).rejects.toMatchObject({ code: "NEW_CHUNK_BEYOND_DEVICE", message: expect.stringContaining("origin chunk 25 ") });
    } finally {
      await cow2.close();
    }
  });
});

describe("export of a scattered COW of more than 16 MiB (read in order first: exportWarm.ts)", () => {
  it("writes the view by its definition", async () => {
    const rng = new Rng(24);
    const spec = randomSpec(rng, 8, 4608, 0.95, 4096);
    const cowBytes = spec.entries.length * 4096;
    expect(cowBytes).toBeGreaterThanOrEqual(WARM_MIN_BYTES); // the warm-up applies (random order: every chunk a jump)
    const f = await files("warm", spec, 25);
    const output = join(dir, "warm.img");
    const r = await exportSnapshot({ origin: f.originPath, cow: f.cowPath, output });
    expect(r.cowChunks).toBe(spec.entries.length);
    expect(Buffer.compare(new Uint8Array(await readFile(output)), expectedView(spec, f.origin, f.cow))).toBe(0);
  });
});
