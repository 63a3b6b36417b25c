/**
 * exportStream.ts's gatherBlock: the COW chunks of one block of the view read
 * in one piece when they lie close together in the COW. Hand-made maps over
 * a COW file whose chunk k holds the byte k + 1 throughout (1-sector chunks).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gatherBlock } from "./exportStream.js";
import { FileDevice } from "./fileDevice.js";

let dir: string;
let cow: FileDevice;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dmsnap-export-stream-"));
  const bytes = new Uint8Array(40 * 512);
  for (let k = 0; k < 40; k++) bytes.fill(k + 1, k * 512, (k + 1) * 512);
  writeFileSync(join(dir, "cow"), bytes);
  cow = await FileDevice.open(join(dir, "cow"), { readOnly: true });
});
afterAll(async () => {
  await cow.close();
  await rm(dir, { recursive: true, force: true });
});

/** The byte each 512-byte piece of `buf` holds (its first byte). */
const pieces = (buf: Buffer, n: number) => Array.from({ length: n }, (_, i) => buf[i * 512]);

describe("gatherBlock", () => {
  it("every third origin chunk from consecutive COW chunks (a sequential layout with gaps): one piece", () => {
    // origin chunks 8..15 (a block of 8), 8, 11, 14 -> COW 20, 21, 22
    const map = new Uint32Array(16);
    map[8] = 20;
    map[11] = 21;
    map[14] = 22;
    const buf = Buffer.alloc(8 * 512, 0xee);
    const gather = Buffer.alloc(8 * 512);
    expect(gatherBlock(cow, map, 8, 16, 1, buf, 8 * 512, 8 * 512, gather)).toBe(true);
    // the origin's bytes (0xee here) stay where the COW serves nothing
    expect(pieces(buf, 8)).toEqual([21, 0xee, 0xee, 22, 0xee, 0xee, 23, 0xee]);
  });

  it("a partial last chunk takes only the view's bytes; COW chunks in any order within the span", () => {
    const map = new Uint32Array(4);
    map[1] = 7;
    map[2] = 5;
    map[3] = 6; // the last chunk: 100 bytes of the view
    const n = 3 * 512 + 100;
    const buf = Buffer.alloc(n, 0xee);
    const gather = Buffer.alloc(8 * 512);
    expect(gatherBlock(cow, map, 0, 4, 1, buf, 0, n, gather)).toBe(true);
    expect(pieces(buf, 4)).toEqual([0xee, 8, 6, 7]);
    expect(buf.length).toBe(n);
    expect(buf[n - 1]).toBe(7);
  });

  it("declines, reading nothing, when the span is wider than the buffer or mostly chunks the view does not take", () => {
    const gather = Buffer.alloc(8 * 512);
    const buf = Buffer.alloc(8 * 512, 0xee);
    const wide = new Uint32Array(8);
    wide[0] = 2;
    wide[1] = 10; // span 9 chunks > 8
    expect(gatherBlock(cow, wide, 0, 8, 1, buf, 0, 8 * 512, gather)).toBe(false);
    const sparse = new Uint32Array(8);
    sparse[0] = 2;
    sparse[1] = 7; // 2 chunks over a span of 6 (a third): taken
    expect(gatherBlock(cow, sparse, 0, 8, 1, buf, 0, 8 * 512, gather)).toBe(true);
    const thin = new Uint32Array(8);
    thin[0] = 2;
    thin[1] = 9; // 2 chunks over a span of 8 (a quarter, in a larger buffer): taken
    expect(gatherBlock(cow, thin, 0, 8, 1, buf, 0, 8 * 512, Buffer.alloc(16 * 512))).toBe(true);
    const one = new Uint32Array(8);
    one[3] = 4; // one chunk: declined (a plain read is as good)
    expect(gatherBlock(cow, one, 0, 8, 1, Buffer.alloc(8 * 512, 0xee), 0, 8 * 512, gather)).toBe(false);
    const quarter = new Uint32Array(8);
    quarter[0] = 2;
    quarter[1] = 11; // 2 chunks over a span of 10 (less than a quarter): declined
    expect(gatherBlock(cow, quarter, 0, 8, 1, buf, 0, 8 * 512, Buffer.alloc(16 * 512))).toBe(false);
  });
});
