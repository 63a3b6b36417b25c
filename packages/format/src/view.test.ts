// snapshotView builds the view in a copy: a caller's origin, even a Node
// Buffer (whose slice() is a view, not a copy), is never written.
import { describe, expect, it } from "vitest";
import { decodeCow } from "./activation.js";
import { bytesReader } from "./reader.js";
import { snapshotView } from "./view.js";

// Hand-laid COW, 1-sector chunks: header (chunk 0), area 0 (chunk 1) with one
// entry {old 0, new 2} and a terminator, data chunk 2 filled with 0xbb.
function handCow(): Uint8Array {
  const cow = new Uint8Array(4 * 512);
  const dv = new DataView(cow.buffer);
  dv.setUint32(0, 0x70416e53, true); // magic "SnAp"
  dv.setUint32(4, 1, true); // valid
  dv.setUint32(8, 1, true); // version
  dv.setUint32(12, 1, true); // chunk size, sectors
  dv.setUint32(512, 0, true); // entry 0: old_chunk 0 (low, high)
  dv.setUint32(516, 0, true);
  dv.setUint32(520, 2, true); // new_chunk 2
  dv.setUint32(524, 0, true);
  cow.fill(0xbb, 1024, 1536);
  return cow;
}

describe("snapshotView", () => {
  it("serves COW chunk 2 for origin chunk 0 and leaves a Buffer origin untouched", () => {
    const cow = handCow();
    const origin = Buffer.alloc(2 * 512, 0xaa);
    const image = decodeCow(bytesReader(cow));
    const { view } = snapshotView(image, origin, cow);
    expect(view[0]).toBe(0xbb);
    expect(view[511]).toBe(0xbb);
    expect(view[512]).toBe(0xaa);
    expect(origin.every((b) => b === 0xaa)).toBe(true);
  });
});
