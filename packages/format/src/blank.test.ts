/**
 * Blank means: the header chunk and area 0 (chunks 0 and 1 at the chunk size
 * in effect) are all zeros. Offsets below are written out from that rule
 * (chunk size 1 = 512-byte chunks: header 0..511, area 0 512..1023).
 */
import { describe, expect, it } from "vitest";
import { newCowNotBlank, probeAreaZero } from "./blank.js";
import { bytesReader, type SyncReader } from "./reader.js";
import { buildCow } from "./build.js";
import { raceHeader } from "./damage.js";

const KiB = 1024;
const zeros = (n: number): Uint8Array => new Uint8Array(n);
const withByte = (n: number, at: number, value = 1): Uint8Array => {
  const b = zeros(n);
  b[at] = value;
  return b;
};

describe("newCowNotBlank: what first activation reads and writes must be zeros", () => {
  it("all zeros is blank; data past area 0 does not count", async () => {
    expect(await newCowNotBlank(bytesReader(zeros(64 * KiB)), 1)).toBeNull();
    expect(await newCowNotBlank(bytesReader(withByte(64 * KiB, 1024)), 1)).toBeNull(); // chunk 2: data, not looked at
  });

  it("a byte in the header chunk past the header words, or in area 0, is not blank", async () => {
    expect(await newCowNotBlank(bytesReader(withByte(64 * KiB, 100)), 1)).toMatchObject({ firstNonZero: 100, inHeaderChunk: true, headerDirty: false, extent: 1024, chunkSize: 1 });
    expect(await newCowNotBlank(bytesReader(withByte(64 * KiB, 1023)), 1)).toMatchObject({ firstNonZero: 1023, inHeaderChunk: false });
    expect(await newCowNotBlank(bytesReader(withByte(64 * KiB, 8)), 1)).toMatchObject({ headerDirty: true });
  });

  it("the areas looked at follow the chunk size in effect", async () => {
    const b = bytesReader(withByte(64 * KiB, 3000));
    expect(await newCowNotBlank(b, 1)).toBeNull(); // chunk 5 at 512-byte chunks
    expect(await newCowNotBlank(b, 4)).toMatchObject({ inHeaderChunk: false, extent: 4096 }); // area 0 = 2048..4095
    expect(await newCowNotBlank(b, 8)).toMatchObject({ inHeaderChunk: true, extent: 8192 }); // header chunk = 0..4095
  });

  it("a magic that is not 0 is not a new COW: null (activation decides)", async () => {
    const b = withByte(64 * KiB, 0, 0x53);
    b[600] = 1;
    expect(await newCowNotBlank(bytesReader(b), 1)).toBeNull();
  });

  it("names an ext4 image (superblock magic 0xEF53 at byte 1080) and finds nothing for repair in it", async () => {
    const b = zeros(64 * KiB);
    b.set([0x53, 0xef], 1080);
    const e = await newCowNotBlank(bytesReader(b), 32);
    expect(e).toMatchObject({ firstNonZero: 1080, signature: { name: "an ext2/3/4 file system", offset: 1080 }, salvage: null });
  });

  it("the 2009 race (area 0 over the header, first entry {0, 2}): header words dirty, area 0 parses at chunk size 1", async () => {
    const built = buildCow({ chunkSize: 1, exceptions: [0, 5, 17], freeChunks: 20 });
    const raced = raceHeader(built.bytes, 1);
    const e = await newCowNotBlank(bytesReader(raced), 32);
    // Entry 0 is {old 0, new 2}: its new_chunk's low byte is byte 8.
    expect(e).toMatchObject({ firstNonZero: 8, headerDirty: true, inHeaderChunk: true, signature: null, salvage: { chunkSize: 1, exceptions: 3 } });
  });

  it("is async-capable: the same answer through an AsyncReader", async () => {
    const b = withByte(64 * KiB, 700);
    const r = bytesReader(b);
    expect(await newCowNotBlank({ size: r.size, read: async (o, n) => r.read(o, n) }, 1)).toMatchObject({ firstNonZero: 700 });
  });
});

describe("bounded: the bytes read do not grow with the exceptions", () => {
  /** A 1 TiB device full of sound-looking entries, counting the bytes read. */
  function counting(size: number): SyncReader & { bytes: number } {
    const r = {
      size,
      bytes: 0,
      read(offset: number, length: number): Uint8Array {
        r.bytes += length;
        const out = new Uint8Array(length);
        const v = new DataView(out.buffer);
        // Entries {0, 3} at every 16-byte boundary of the device: magic 0, and no area ever ends.
        for (let at = (16 - (offset % 16)) % 16; at + 16 <= length; at += 16) v.setUint32(at + 8, 3, true);
        return out;
      },
    };
    return r;
  }

  it("a magic-0 header over a 1 TiB device: at most the two chunks, the signature window and area 0 at 15 chunk sizes", async () => {
    const dev = counting(2 ** 40);
    const e = await newCowNotBlank(dev, 32);
    expect(e).not.toBeNull();
    // 2 chunks of 16 KiB + 64 KiB of head + 16 bytes of header + area 0 at 1, 2, 4 ... 16384 sectors (512 B .. 8 MiB: < 16 MiB).
    expect(dev.bytes).toBeLessThan(32 * KiB + 64 * KiB + 16 + 16 * KiB * KiB);
  });

  it("probeAreaZero stops at area 0's terminator", async () => {
    const built = buildCow({ chunkSize: 8, exceptions: [1, 2, 3] });
    const r = bytesReader(built.bytes);
    let read = 0;
    const p = await probeAreaZero({ size: r.size, read: (o, n) => ((read += n), r.read(o, n)) });
    expect(p).toEqual({ chunkSize: 8, exceptions: 3 });
    expect(read).toBeLessThan(built.bytes.length);
  });
});
