import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow } from "@dmsnap/format";
import { buildCow, damage } from "@dmsnap/format/testing";
import { MemoryDevice } from "./device.js";
import { repairCow } from "./repair.js";
import { handCow, handReadAreas } from "./testkit.js";

class CountingDevice extends MemoryDevice {
  bytesWritten = 0;
  override async write(offset: number, data: Uint8Array): Promise<void> {
    this.bytesWritten += data.length;
    return super.write(offset, data);
  }
}

/** Data bytes: chunk n filled with n's low byte, so a copy is checked chunk by chunk. */
const fillFor = (chunkBytes: number) => (_old: number, n: number) => new Uint8Array(chunkBytes).fill((n * 37) & 0xff | 1);

describe("repair = salvage -> CowMetadata -> restore", () => {
  it("a 2009-race image (header chunk overwritten by area 0's bytes): the entries come back under a fresh header, data chunks unchanged", async () => {
    // Chunk size 2 (1 KiB chunks, 64 entries an area): 70 entries span areas 0 (chunk 1) and 1 (chunk 66),
    // laid out by hand (not by the builder): data chunks 2..65 and 67..72, each filled with its own byte.
    const built = handCow({ chunkSize: 2, chunks: 79, entries: Array.from({ length: 70 }, (_, i) => 500 + i), data: (o, n) => fillFor(1024)(o, n)[0]! });
    expect(built.pairs[69]).toEqual([569, 72]);
    const raced = built.bytes.slice();
    raced.copyWithin(0, 1024, 2048); // the race: chunk 0 receives area 0's bytes
    expect(() => decodeCow(bytesReader(raced))).toThrow(); // the kernel refuses it
    const target = new MemoryDevice(raced.length);
    const r = await repairCow(bytesReader(raced), target, { targetIsZero: true });
    expect(r.found.chunkSizeSource).toBe("inferred");
    expect(r.verified).toBe(true);
    const img = decodeCow(bytesReader(target.bytes));
    expect(img.state).toBe("valid");
    expect(img.header).toEqual({ magic: 0x70416e53, valid: 1, version: 1, chunkSize: 2 });
    expect(img.exceptions.toPairs()).toEqual(built.pairs);
    expect(handReadAreas(target.bytes, 2)).toEqual(built.pairs);
    // Everything but the header chunk is the hand-laid image again (areas re-laid identically, data copied).
    expect(Buffer.from(target.bytes.subarray(1024)).equals(Buffer.from(built.bytes.subarray(1024)))).toBe(true);
  });

  it("--invalid writes valid 0; the entries stay readable with readInvalid", async () => {
    const built = buildCow({ chunkSize: 1, exceptions: [4, 9, 2] });
    const target = new MemoryDevice(built.bytes.length);
    const r = await repairCow(bytesReader(damage.setHeaderField(built.bytes, "chunkSize", 0)), target, { valid: false });
    expect(r.found.chunkSizeSource).toBe("inferred");
    const img = decodeCow(bytesReader(target.bytes), { readInvalid: true });
    expect(img.state).toBe("invalid");
    expect(img.exceptions.toPairs()).toEqual(built.pairs);
  });

  it("refuses with CHUNK_SIZE_UNKNOWN when nothing parses, and NO_ROOM when the zeroed area after a full one lies past the end; the target is not written", async () => {
    const junk = new Uint8Array(64 * 1024).fill(0xff);
    const t1 = new MemoryDevice(junk.length);
    await expect(repairCow(bytesReader(junk), t1, { inputName: "junk.img" })).rejects.toMatchObject({ code: "CHUNK_SIZE_UNKNOWN", message: expect.stringContaining("junk.img") });
    expect(t1.writes).toBe(0);
    // Chunk size 1: 32 entries fill area 0 (chunk 1); area 1 would be chunk 34, but the device has 34 chunks (0..33).
    const full = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 32 }, (_, i) => i), deviceChunks: 35 });
    const cut = damage.truncate(full.bytes, 34 * 512);
    const t2 = new MemoryDevice(cut.length);
    await expect(repairCow(bytesReader(cut), t2)).rejects.toMatchObject({ code: "NO_ROOM" });
    expect(t2.writes).toBe(0);
  });

  it("a zero target gets no writes for zero pieces (holes stay holes); any other target gets every byte", async () => {
    const built = buildCow({ chunkSize: 8, exceptions: [1], freeChunks: 200 });
    const raced = damage.raceHeader(built.bytes, 8);
    const zero = new CountingDevice(raced.length);
    await repairCow(bytesReader(raced), zero, { targetIsZero: true });
    const dirty = new CountingDevice(new Uint8Array(raced.length).fill(0x5a));
    await repairCow(bytesReader(raced), dirty);
    expect(Buffer.from(dirty.bytes).equals(Buffer.from(zero.bytes))).toBe(true);
    // 201 of the 203 4 KiB chunks are zero in the input (800 KiB): a zero target is spared most of them (zero runs are found in 64 KiB pieces).
    expect(dirty.bytesWritten).toBeGreaterThanOrEqual(raced.length);
    expect(zero.bytesWritten).toBeLessThan(raced.length / 4);
  });
});
