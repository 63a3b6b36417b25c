/**
 * exportWarm.ts: when a scattered COW is read in order before export's
 * origin-order stream. Maps written out by hand; the bytes read are counted
 * on a real file (the range lowest..highest COW chunk, in whole chunks).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileDevice } from "./fileDevice.js";
import { scatterOf, shouldWarm, WARM_MIN_BYTES, warmCow } from "./exportWarm.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmsnap-export-warm-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("scatterOf", () => {
  it("counts COW chunks, the runs they start, and their range, in origin order", () => {
    // origin 0..7 -> COW 0 (none), 5, 6, 0, 7, 2, 3, 0: runs 5-6, 7, 2-3 (7 follows 6 across a gap in the origin: no jump)
    expect(scatterOf(new Uint32Array([0, 5, 6, 0, 7, 2, 3, 0]))).toEqual({ chunks: 5, jumps: 2, lowest: 2, highest: 7 });
    expect(scatterOf(new Uint32Array([0, 0]))).toEqual({ chunks: 0, jumps: 0, lowest: 0, highest: 0 });
    expect(scatterOf(new Float64Array([2 ** 33, 9]))).toEqual({ chunks: 2, jumps: 2, lowest: 9, highest: 2 ** 33 });
  });
});

describe("shouldWarm", () => {
  const cb = 4096;
  const many = WARM_MIN_BYTES / cb; // 4096 chunks of 4 KiB
  it("warms a scattered view of at least 16 MiB whose range fits in a quarter of free memory", () => {
    const s = { chunks: many, jumps: many, lowest: 2, highest: 2 + 2 * many - 1 }; // 32 MiB range
    expect(shouldWarm(s, cb, 128 << 20)).toBe(true);
    expect(shouldWarm(s, cb, (128 << 20) - 1)).toBe(false); // the range is over a quarter
  });
  it("leaves a sequential layout, a small view and an empty one to the stream", () => {
    expect(shouldWarm({ chunks: many, jumps: many / 8, lowest: 2, highest: many + 1 }, cb, 2 ** 40)).toBe(false); // one run in 8: no
    expect(shouldWarm({ chunks: many, jumps: many / 8 + 1, lowest: 2, highest: many + 1 }, cb, 2 ** 40)).toBe(true);
    expect(shouldWarm({ chunks: many - 1, jumps: many - 1, lowest: 2, highest: many }, cb, 2 ** 40)).toBe(false);
    expect(shouldWarm({ chunks: 0, jumps: 0, lowest: 0, highest: 0 }, cb, 2 ** 40)).toBe(false);
  });
});

describe("warmCow", () => {
  it("reads COW chunks lowest..highest in order, and nothing when it should not", async () => {
    const cs = 8;
    const cb = 4096;
    const n = WARM_MIN_BYTES / cb;
    const path = join(dir, "scattered.cow");
    writeFileSync(path, new Uint8Array((n + 10) * cb));
    const cow = await FileDevice.open(path, { readOnly: true });
    try {
      // COW chunks 3..n+2 in reverse origin order: every one a jump.
      const map = new Uint32Array(n);
      for (let o = 0; o < n; o++) map[o] = n + 2 - o;
      expect(warmCow(cow, cs, map, cb, 2 ** 40)).toBe(n * cb);
      expect(warmCow(cow, cs, map, cb, 4 * n * cb - 1)).toBe(0); // not in a quarter of free memory
      const sequential = map.slice().reverse();
      expect(warmCow(cow, cs, sequential, cb, 2 ** 40)).toBe(0);
    } finally {
      await cow.close();
    }
  });
});
