/**
 * `dmsnap export` keeps holes (issue #23): a sparse 1 GiB origin with a few
 * regions of data and a COW of 4 exceptions (one of them a chunk of zeros
 * over origin data) exports to a file with a few pages allocated, whose bytes
 * hash as the view computed here from the regions and chunks this file wrote
 * (the format's layout by hand, not dmsnap's builder).
 */
import { afterAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { closeSync, ftruncateSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { dmsnap, random, tempDir } from "./helpers.js";

const CS = 16; // sectors: 8 KiB chunks (two pages each)
const CB = CS * 512;
const SIZE = 1 << 30;
const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Region = { at: number; bytes: Uint8Array };

function sparseFile(path: string, size: number, regions: Region[]): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, size);
    for (const r of regions) writeSync(fd, r.bytes, 0, r.bytes.length, r.at);
  } finally {
    closeSync(fd);
  }
}

/** The view's bytes [from, from + n): zeros, then `layers` in order (origin regions, then the COW chunks over them). */
function piece(from: number, n: number, layers: Region[]): Uint8Array {
  const out = new Uint8Array(n);
  for (const { at, bytes } of layers) {
    const s = Math.max(at, from);
    const e = Math.min(at + bytes.length, from + n);
    if (s < e) out.set(bytes.subarray(s - at, e - at), s - from);
  }
  return out;
}

function hashFile(path: string): string {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = new Uint8Array(8 << 20);
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest("hex");
}

describe("export of a sparse origin", () => {
  it("1 GiB origin, 4 exceptions: under 1 % allocated, the view's bytes", () => {
    const origin: Region[] = [
      { at: 0, bytes: random(4 * CB, 1) },
      { at: 1000 * CB + 123, bytes: random(3 * CB, 2) },
      { at: SIZE / 2, bytes: random(CB, 3) },
      { at: SIZE - 100, bytes: random(100, 4) },
    ];
    // Zeros over origin data (chunk 2), data over a hole, data over data, data over the tail.
    const olds = [2, 50_000, 1001, SIZE / CB - 1];
    const chunks = [new Uint8Array(CB), random(CB, 5), random(CB, 6), random(CB, 7)];
    // COW: header, area 0 (entries: old, new as two little-endian 64-bit words), data chunks 2..5.
    const header = new Uint8Array(16);
    const hv = new DataView(header.buffer);
    [0x70416e53, 1, 1, CS].forEach((w, i) => hv.setUint32(i * 4, w, true));
    const area = new Uint8Array(CB);
    const av = new DataView(area.buffer);
    olds.forEach((o, i) => {
      av.setUint32(i * 16, o, true);
      av.setUint32(i * 16 + 8, 2 + i, true);
    });
    const originPath = join(dir, "origin.img");
    const cowPath = join(dir, "snap.cow");
    const out = join(dir, "view.img");
    sparseFile(originPath, SIZE, origin);
    sparseFile(cowPath, 10 * CB, [{ at: 0, bytes: header }, { at: CB, bytes: area }, ...chunks.map((bytes, i) => ({ at: (2 + i) * CB, bytes }))]);

    const r = dmsnap("export", "--origin", originPath, "--cow", cowPath, "--output", out, "--json", "--progress", "none");
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ bytes: SIZE, cowChunks: 4 });

    const st = statSync(out);
    expect(st.size).toBe(SIZE);
    expect(st.blocks * 512).toBeLessThan(SIZE / 100); // was 1 GiB: every byte allocated

    const layers = [...origin, ...olds.map((o, i) => ({ at: o * CB, bytes: chunks[i]! }))];
    const want = createHash("sha256");
    for (let at = 0; at < SIZE; at += 8 << 20) want.update(piece(at, Math.min(8 << 20, SIZE - at), layers));
    expect(hashFile(out)).toBe(want.digest("hex"));
    // The chunk of zeros from the COW replaced the origin's data.
    expect(piece(2 * CB, CB, origin).some((b) => b !== 0)).toBe(true);
    const got = new Uint8Array(CB);
    const fd = openSync(out, "r");
    readSync(fd, got, 0, CB, 2 * CB);
    closeSync(fd);
    expect(got.every((b) => b === 0)).toBe(true);
  }, 120_000);
});
