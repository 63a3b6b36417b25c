/**
 * export keeps holes (exportSparse.ts): a sparse 1 GiB origin with a few
 * regions of data and a COW of 4 exceptions exports to a file of a few
 * blocks, on each of export's paths, and its bytes are the view computed here
 * by the definition (chunk c from the COW chunk of the first entry naming it,
 * else from the origin) from the regions this file wrote, not by export's code.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeSync, ftruncateSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportSnapshot } from "./export.js";
import { skipZeroPages } from "./exportSparse.js";
import { FileDevice } from "./fileDevice.js";
import { Rng } from "./rng.js";

const CS = 8; // sectors: 4 KiB chunks
const CB = CS * 512;
const GiB = 1 << 30;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmsnap-export-sparse-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Bytes at an offset: what this file wrote, the rest of the file being zeros. */
type Region = { at: number; bytes: Uint8Array };

/** A sparse file of `size` bytes holding `regions` (ftruncate, then pwrite). */
function sparseFile(path: string, size: number, regions: Region[]): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, size);
    for (const r of regions) writeSync(fd, r.bytes, 0, r.bytes.length, r.at);
  } finally {
    closeSync(fd);
  }
}

/** A COW (the format's layout: header, area 0 at chunk 1, data from chunk 2) whose entries map `olds[i]` to data chunk 2 + i holding `data[i]`. */
function cowFile(path: string, olds: number[], data: Uint8Array[]): void {
  const header = new Uint8Array(16);
  const h = new DataView(header.buffer);
  h.setUint32(0, 0x70416e53, true);
  h.setUint32(4, 1, true);
  h.setUint32(8, 1, true);
  h.setUint32(12, CS, true);
  const area = new Uint8Array(CB);
  const a = new DataView(area.buffer);
  olds.forEach((o, i) => {
    a.setUint32(i * 16, o, true);
    a.setUint32(i * 16 + 8, 2 + i, true);
  });
  sparseFile(path, (2 + olds.length + 4) * CB, [{ at: 0, bytes: header }, { at: CB, bytes: area }, ...data.map((bytes, i) => ({ at: (2 + i) * CB, bytes }))]);
}

/** The view's bytes [from, from + n): zeros, the origin's regions, then each entry's chunk over its origin chunk (one entry per chunk here). */
function expectedPiece(from: number, n: number, origin: Region[], olds: number[], data: Uint8Array[]): Uint8Array {
  const piece = new Uint8Array(n);
  const put = (at: number, bytes: Uint8Array) => {
    const s = Math.max(at, from);
    const e = Math.min(at + bytes.length, from + n);
    if (s < e) piece.set(bytes.subarray(s - at, e - at), s - from);
  };
  for (const r of origin) put(r.at, r.bytes);
  olds.forEach((o, i) => put(o * CB, data[i]!));
  return piece;
}

/** Compares the whole file with the expected view, 8 MiB at a time; returns the first differing offset or -1. */
function firstDifference(path: string, size: number, origin: Region[], olds: number[], data: Uint8Array[]): number {
  const fd = openSync(path, "r");
  const step = 8 << 20;
  const buf = new Uint8Array(step);
  try {
    for (let at = 0; at < size; at += step) {
      const n = Math.min(step, size - at);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, buf, got, n - got, at + got);
        if (r === 0) break;
        got += r;
      }
      if (got !== n) return at + got;
      const want = expectedPiece(at, n, origin, olds, data);
      if (Buffer.compare(buf.subarray(0, n), want) !== 0) {
        for (let i = 0; i < n; i++) if (buf[i] !== want[i]) return at + i;
      }
    }
    return -1;
  } finally {
    closeSync(fd);
  }
}

const allocated = (path: string): number => statSync(path).blocks * 512;

describe("skipZeroPages", () => {
  it("writes each run of non-zero pages once, pages aligned to the output's offsets, not the buffer's", () => {
    const calls: Array<[number, number, number]> = [];
    const write = skipZeroPages((_b, offset, length, position) => void calls.push([offset, length, position]));
    // Output bytes [4000, 16288) from buffer offset 8: pages [4000,4096) [4096,8192) [8192,12288) [12288,16288).
    const buf = new Uint8Array(8 + 12288 + 8).fill(7); // non-zero outside the range written
    buf.fill(0, 8, 8 + 12288);
    const at = (abs: number) => 8 + abs - 4000;
    buf[at(4010)] = 1; // page [4000,4096)
    buf[at(12000)] = 2; // page [8192,12288); [4096,8192) stays zeros
    buf[at(16287)] = 3; // the last (partial) page, its last byte
    expect(write(buf, 8, 12288, 4000)).toBeUndefined();
    expect(calls).toEqual([
      [8, 96, 4000],
      [at(8192), 16288 - 8192, 8192],
    ]);
    calls.length = 0;
    buf.fill(0, 8, 8 + 12288);
    write(buf, 8, 12288, 4000);
    expect(calls).toEqual([]);
  });
});

describe("export keeps the view's holes in a new regular file", () => {
  const rng = new Rng(23);
  // Origin: data at the start, a region straddling chunk boundaries and not page aligned, one page at 512 MiB, a partial page at the end.
  const origin: Region[] = [
    { at: 0, bytes: rng.bytes(3 * CB) },
    { at: 100 * CB + 1000, bytes: rng.bytes(5 * CB) },
    { at: 512 * 1024 * 1024, bytes: rng.bytes(CB) },
    { at: GiB - 777, bytes: rng.bytes(777) },
  ];
  // Four exceptions: zeros over origin data (chunk 1), data over a hole, half zeros over data, data over data at the end.
  const half = rng.bytes(CB).fill(0, 0, CB / 2);
  const olds = [1, 200_000, 101, GiB / CB - 1];
  const data = [new Uint8Array(CB), rng.bytes(CB), half, rng.bytes(CB)];
  const written = origin.reduce((s, r) => s + r.bytes.length, 0) + 4 * CB;

  const variants = [
    { name: "origin order (the map fits)", kernelCopy: true, mapBytes: undefined },
    { name: "kernel copy + overlay (the origin is sparse, so it is streamed)", kernelCopy: true, mapBytes: 0 },
    { name: "streamed copy + overlay", kernelCopy: false, mapBytes: 0 },
  ];
  it.each(variants)("$name: 1 GiB origin, 4 exceptions", async ({ name, kernelCopy, mapBytes }) => {
    const tag = name.replace(/\W+/g, "-");
    const originPath = join(dir, `${tag}.origin`);
    const cowPath = join(dir, `${tag}.cow`);
    const output = join(dir, `${tag}.img`);
    sparseFile(originPath, GiB, origin);
    cowFile(cowPath, olds, data);
    const r = await exportSnapshot({ origin: originPath, cow: cowPath, output, kernelCopy, mapBytes });
    expect(r).toMatchObject({ bytes: GiB, cowChunks: 4, state: "valid" });
    expect(statSync(output).size).toBe(GiB);
    // A few pages per region: well under 1 % of the size (a fully allocated copy is 100 %).
    expect(allocated(output)).toBeLessThan(GiB / 100);
    expect(allocated(output)).toBeLessThanOrEqual(written + 16 * CB);
    expect(firstDifference(output, GiB, origin, olds, data)).toBe(-1);
    await rm(originPath);
    await rm(output);
  }, 60_000);

  it("a COW chunk of zeros over origin data is written as zeros, on every path", async () => {
    // Small enough to compare whole: the origin all data, one exception of zeros.
    const size = 64 * CB;
    const full = [{ at: 0, bytes: rng.bytes(size) }];
    const cowPath = join(dir, "zero-chunk.cow");
    const originPath = join(dir, "zero-chunk.origin");
    sparseFile(originPath, size, full);
    const chunks = [new Uint8Array(CB), rng.bytes(CB)];
    cowFile(cowPath, [7, 40], chunks);
    for (const v of variants) {
      const output = join(dir, `zero-chunk-${v.mapBytes ?? "map"}-${v.kernelCopy}.img`);
      await exportSnapshot({ origin: originPath, cow: cowPath, output, kernelCopy: v.kernelCopy, mapBytes: v.mapBytes });
      expect(firstDifference(output, size, full, [7, 40], chunks)).toBe(-1);
      expect(readChunk(output, 7)).toEqual(new Uint8Array(CB));
    }
  });

  it("an output that already holds bytes (a caller's file) is written whole: no old byte survives under a page of zeros", async () => {
    const size = 32 * CB;
    const part = [{ at: 5 * CB, bytes: rng.bytes(CB) }];
    const originPath = join(dir, "prefilled.origin");
    const cowPath = join(dir, "prefilled.cow");
    const outPath = join(dir, "prefilled.img");
    sparseFile(originPath, size, part);
    cowFile(cowPath, [9], [new Uint8Array(CB)]);
    for (const v of variants) {
      sparseFile(outPath, size, [{ at: 0, bytes: new Uint8Array(size).fill(0xa5) }]);
      const h = await open(outPath, "r+");
      const o = await FileDevice.open(originPath, { readOnly: true });
      const c = await FileDevice.open(cowPath, { readOnly: true });
      try {
        await exportSnapshot({ origin: originPath, cow: cowPath, output: outPath, kernelCopy: false, mapBytes: v.mapBytes, opened: { origin: o, cow: c, output: { write: (b, off, l, p) => h.write(b, off, l, p), sync: () => h.sync(), close: async () => {}, fd: h.fd } } });
      } finally {
        await h.close();
        await o.close();
        await c.close();
      }
      expect(firstDifference(outPath, size, part, [9], [new Uint8Array(CB)])).toBe(-1);
    }
  });
});

/** Chunk `n` of a file. */
function readChunk(path: string, n: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const b = new Uint8Array(CB);
    readSync(fd, b, 0, CB, n * CB);
    return b;
  } finally {
    closeSync(fd);
  }
}
