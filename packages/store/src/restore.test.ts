import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow, ExceptionTable, FormatError, metadataOfImage, metadataOfTable, parseLosslessDump, readCowMetadata, writeLosslessDump, type CowMetadata } from "@dmsnap/format";
import { buildCow } from "@dmsnap/format/testing";
import { MemoryDevice } from "./device.js";
import { restoreMetadata as restoreToDevice } from "./restore.js";
import { AutoScheduler, FaultDevice, Rng, SimDevice } from "./testing.js";
import { handAllocation, handReadAreas } from "./testkit.js";

/** Our own writer's lossless dump of an image built by the test kit's builder (self-agreement: the expected bytes are the builder's). */
function dumpText(bytes: Uint8Array): string {
  let s = "";
  writeLosslessDump(readCowMetadata(bytesReader(bytes), { readInvalid: true }), (t) => (s += t));
  return s;
}

/** The same view of an image, from the layout rules by hand: `olds` committed in order to a fresh store. */
function handView(olds: number[], cs: number, valid = 1): string {
  const alloc = handAllocation(cs, olds.length);
  return JSON.stringify({ valid, cs, pairs: olds.map((o, i) => [o, alloc[i]]) });
}

/** What activation makes of an image: "new", or the exception pairs with the valid word. */
function view(bytes: Uint8Array, tableChunkSize = 1): string {
  try {
    const img = decodeCow(bytesReader(bytes), { readInvalid: true, tableChunkSize });
    if (img.state === "new") return "new";
    return JSON.stringify({ valid: img.header.valid, cs: img.chunkSize, pairs: img.exceptions.toPairs() });
  } catch (e) {
    if (e instanceof FormatError) return `refused ${e.code}`;
    throw e;
  }
}

const specArb = fc.record({
  chunkSize: fc.constantFrom(1, 2, 8),
  count: fc.integer({ min: 0, max: 600 }),
  valid: fc.constantFrom(0, 1),
  free: fc.integer({ min: 0, max: 20 }),
  stride: fc.integer({ min: 1, max: 5 }),
});

describe("restore lays out hand-computed bytes", () => {
  it("chunk size 1 (512-byte chunks, 32 entries an area): header in chunk 0, area 0 at chunk 1, area 1 at chunk 34", async () => {
    const pairs: Array<[number, number]> = Array.from({ length: 33 }, (_, i) => [100 + i, 2 + i]);
    pairs[1] = [2 ** 32 + 5, 2 ** 33 + 7]; // wide numbers: low word first, then high word
    const m = metadataOfTable(40 * 512, { magic: 0x70416e53, valid: 1, version: 1, chunkSize: 1 }, ExceptionTable.from(pairs));
    const dev = new MemoryDevice(new Uint8Array(40 * 512).fill(0xee));
    dev.bytes.fill(0, 0, 2 * 512); // a blank header chunk and area 0 (chunk size 1): no force needed
    const r = await restoreToDevice(dev, m);
    expect(r).toEqual({ overwrote: "blank", areasWritten: 2 });
    const u32 = (at: number): number => dev.bytes[at]! | (dev.bytes[at + 1]! << 8) | (dev.bytes[at + 2]! << 16) | ((dev.bytes[at + 3]! << 24) >>> 0);
    // Header: "SnAp" as bytes, then valid, version, chunk size; the rest of chunk 0 zero.
    expect([...dev.bytes.subarray(0, 4)]).toEqual([0x53, 0x6e, 0x41, 0x70]);
    expect([u32(4), u32(8), u32(12)]).toEqual([1, 1, 1]);
    expect(dev.bytes.subarray(16, 512).every((b) => b === 0)).toBe(true);
    // Area 0 (chunk 1): entry 0 is old 100, new 2; entry 1 the wide pair; entry 31 is old 131, new 33.
    expect([u32(512), u32(516), u32(520), u32(524)]).toEqual([100, 0, 2, 0]);
    expect([u32(528), u32(532), u32(536), u32(540)]).toEqual([5, 1, 7, 2]);
    expect([u32(512 + 31 * 16), u32(512 + 31 * 16 + 8)]).toEqual([131, 33]);
    // Chunks 2..33 are data: untouched.
    expect(dev.bytes.subarray(2 * 512, 34 * 512).every((b) => b === 0xee)).toBe(true);
    // Area 1 (chunk 34 = 1 + 33): entry 0 is old 132, new 34, then a zero terminator and zeros to the end of the chunk.
    expect([u32(34 * 512), u32(34 * 512 + 8)]).toEqual([132, 34]);
    expect(dev.bytes.subarray(34 * 512 + 16, 35 * 512).every((b) => b === 0)).toBe(true);
    expect(dev.bytes.subarray(35 * 512).every((b) => b === 0xee)).toBe(true);
  });

  it("a blank COW (magic 0) writes only a zero header sector", async () => {
    const dev = new MemoryDevice(4096);
    const r = await restoreToDevice(dev, metadataOfTable(4096, { magic: 0, valid: 0, version: 0, chunkSize: 0 }, new ExceptionTable(0)));
    expect(r).toEqual({ overwrote: "blank", areasWritten: 0 });
    expect(dev.bytes.every((b) => b === 0)).toBe(true);
  });
});

describe("dump --lossless -> restore", () => {
  it("rebuilds byte-identical metadata (property over chunk sizes, counts, valid words)", async () => {
    await fc.assert(
      fc.asyncProperty(specArb, async ({ chunkSize, count, valid, free, stride }) => {
        const built = buildCow({ chunkSize, valid, exceptions: Array.from({ length: count }, (_, i) => 3 + stride * i), freeChunks: free });
        const dump = parseLosslessDump(dumpText(built.bytes));
        expect(dump.exceptionCount).toBe(count);
        const dev = new MemoryDevice(built.bytes.length);
        await restoreToDevice(dev, dump);
        expect(Buffer.from(dev.bytes).equals(Buffer.from(built.bytes))).toBe(true);
        // Not only self-agreement: the restored areas sit where the layout rules put them (read by hand).
        const alloc = handAllocation(chunkSize, count);
        expect(handReadAreas(dev.bytes, chunkSize)).toEqual(Array.from({ length: count }, (_, i) => [3 + stride * i, alloc[i]]));
        // The in-memory view of the decoded image restores the same bytes.
        const direct = new MemoryDevice(built.bytes.length);
        await restoreToDevice(direct, metadataOfImage(decodeCow(bytesReader(built.bytes), { readInvalid: true })));
        expect(Buffer.from(direct.bytes).equals(Buffer.from(built.bytes))).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it("keeps an exactly full last area followed by its zeroed terminator area", async () => {
    const built = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 64 }, (_, i) => i), freeChunks: 2 });
    const dev = new MemoryDevice(new Uint8Array(built.bytes.length).fill(0xee));
    dev.bytes.fill(0, 0, 2 * 512); // blank header chunk and area 0 so no --force is needed
    await restoreToDevice(dev, parseLosslessDump(dumpText(built.bytes)));
    expect(view(dev.bytes)).toBe(view(built.bytes));
    // Area 2 (chunk 67) is the terminator: zeroed even though the target held 0xee there.
    expect(dev.bytes.subarray(67 * 512, 68 * 512).every((b) => b === 0)).toBe(true);
  });

  it("refuses a target with a SnAp header (COW_EXISTS) or other data (TARGET_NOT_BLANK) unless forced, and a small target", async () => {
    const built = buildCow({ chunkSize: 1, exceptions: [5, 6] });
    const dump = parseLosslessDump(dumpText(built.bytes));
    await expect(restoreToDevice(new MemoryDevice(built.bytes.slice()), dump)).rejects.toMatchObject({ code: "COW_EXISTS" });
    const other = new Uint8Array(built.bytes.length);
    other[0] = 0x7f;
    await expect(restoreToDevice(new MemoryDevice(other), dump)).rejects.toMatchObject({ code: "TARGET_NOT_BLANK" });
    await expect(restoreToDevice(new MemoryDevice(512 * 2), dump)).rejects.toMatchObject({ code: "TARGET_TOO_SMALL" });
    const forced = new MemoryDevice(other);
    await restoreToDevice(forced, dump, { force: true });
    expect(view(forced.bytes)).toBe(view(built.bytes));
  });
});

describe("restore is crash-safe (crash-simulating device)", () => {
  async function crashStates(initial: Uint8Array, dump: CowMetadata, seed: number, force: boolean): Promise<Set<string>> {
    const dev = new SimDevice(initial, new AutoScheduler(new Rng(seed)));
    await restoreToDevice(dev, dump, { force });
    const rng = new Rng(seed + 1);
    const seen = new Set<string>();
    const cs = dump.header.chunkSize;
    for (const t of dev.crashPoints()) for (let k = 0; k < 12; k++) seen.add(view(dev.randomCrashImage(t, rng), cs));
    seen.add(view(dev.current, cs));
    return seen;
  }

  it("every crash state of a restore onto a blank device is blank (new) or the complete image", async () => {
    for (const [cs, count, seed] of [[1, 70, 1], [8, 300, 2], [2, 0, 3], [1, 64, 4]] as const) {
      const built = buildCow({ chunkSize: cs, exceptions: Array.from({ length: count }, (_, i) => 9 + i), freeChunks: 3 });
      const dump = parseLosslessDump(dumpText(built.bytes));
      const states = await crashStates(new Uint8Array(built.bytes.length), dump, seed, false);
      const full = view(built.bytes, cs);
      expect(full).toBe(handView(Array.from({ length: count }, (_, i) => 9 + i), cs));
      for (const s of states) expect([full, "new"]).toContain(s);
      expect(states.has(full)).toBe(true);
    }
  });

  it("every crash state of a forced restore over another snapshot is the old image, blank, or the complete new image", async () => {
    for (const seed of [11, 12, 13, 14, 15]) {
      const old = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 90 }, (_, i) => 500 + i), freeChunks: 10 });
      const next = buildCow({ chunkSize: 1, valid: 0, exceptions: Array.from({ length: 40 }, (_, i) => 7 * i), deviceChunks: old.bytes.length / 512 });
      const dump = parseLosslessDump(dumpText(next.bytes));
      const states = await crashStates(old.bytes, dump, seed, true);
      const allowed = [view(old.bytes), "new", view(next.bytes)];
      expect([allowed[0], allowed[2]]).toEqual([handView(Array.from({ length: 90 }, (_, i) => 500 + i), 1), handView(Array.from({ length: 40 }, (_, i) => 7 * i), 1, 0)]);
      for (const s of states) expect(allowed).toContain(s);
      expect(states.size).toBeGreaterThan(1);
    }
  });

  it("an I/O error part-way leaves a blank or old COW, never a mix (fault-injecting device)", async () => {
    const old = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 50 }, (_, i) => 100 + i), freeChunks: 30 });
    const next = buildCow({ chunkSize: 1, exceptions: Array.from({ length: 70 }, (_, i) => i), deviceChunks: old.bytes.length / 512 });
    const dump = parseLosslessDump(dumpText(next.bytes));
    expect([view(old.bytes), view(next.bytes)]).toEqual([handView(Array.from({ length: 50 }, (_, i) => 100 + i), 1), handView(Array.from({ length: 70 }, (_, i) => i), 1)]);
    for (let failAt = 0; failAt < 12; failAt++) {
      const mem = new MemoryDevice(old.bytes.slice());
      const dev = new FaultDevice(mem, (op) => op.kind !== "read" && op.index === failAt);
      const ok = await restoreToDevice(dev, dump, { force: true }).then(() => true, () => false);
      // A failure after the header write (its final flush) may leave the complete image: also fine.
      expect([view(old.bytes), "new", view(next.bytes)]).toContain(view(mem.bytes));
      if (ok) expect(view(mem.bytes)).toBe(view(next.bytes));
    }
  });
});
