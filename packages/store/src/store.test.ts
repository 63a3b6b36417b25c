import { describe, expect, it } from "vitest";
import { chunkOffset, ErrorCode, FormatError, SNAP_MAGIC } from "@dmsnap/format";
import { buildCow } from "@dmsnap/format/testing";
import { MemoryDevice } from "./device.js";
import { AutoScheduler, SimDevice } from "./crash.js";
import { StoreError } from "./errors.js";
import { PersistentStore } from "./store.js";
import { activate, handAllocation, handCow, handReadAreas, pairsOf } from "./testkit.js";

const CS = 1; // 1-sector chunks: 32 exceptions per area
const blank = (chunks: number, cs = CS) => new MemoryDevice(chunks * cs * 512);

describe("activation", () => {
  it("initialises a blank COW: header written and area 0 zeroed", async () => {
    const dev = blank(10);
    dev.bytes.fill(0xee, 512, 1024); // stale area 0
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    expect(store.activatedFrom).toBe("new");
    const img = activate(dev.bytes);
    if (img instanceof Error) throw img;
    expect(img.state).toBe("valid");
    expect(img.header.magic).toBe(SNAP_MAGIC);
    expect(img.exceptions.count).toBe(0);
    expect(store.nextFree).toBe(2);
    expect(store.status()).toBe("2/10 2");
  });

  it("passes format refusals through with their codes", async () => {
    const dev = blank(10);
    dev.bytes[0] = 1;
    await expect(PersistentStore.open(dev)).rejects.toMatchObject({ code: ErrorCode.BadMagic });
    await expect(PersistentStore.open(dev)).rejects.toBeInstanceOf(FormatError);
  });

  it("loads an invalid snapshot as Invalid with no exceptions", async () => {
    const built = buildCow({ chunkSize: CS, exceptions: [1, 2, 3], valid: false, freeChunks: 4 });
    const store = await PersistentStore.open(new MemoryDevice(built.bytes));
    expect(store.state).toBe("invalid");
    expect(store.status()).toBe("Invalid");
    expect(store.loaded.count).toBe(0);
  });

  it("appends commits to the current area of an existing COW", async () => {
    // Laid out by hand: area 0 (chunk 1) full with chunks 2..33, area 1 (chunk 34) with 3 entries (35, 36, 37).
    const built = handCow({ chunkSize: CS, chunks: 45, entries: Array.from({ length: 35 }, (_, i) => 10 + i) });
    const dev = new MemoryDevice(built.bytes);
    const store = await PersistentStore.open(dev);
    expect(store.loaded.toPairs()).toEqual(built.pairs);
    expect([store.currentArea, store.currentIndex]).toEqual([1, 3]);
    const n = store.prepare();
    expect(n).toBe(38);
    expect(await store.commit(100, n)).toBe(true);
    // entry 3 of area 1: bytes 34 * 512 + 3 * 16 on
    const v = new DataView(dev.bytes.buffer);
    expect([v.getUint32(34 * 512 + 48, true), v.getUint32(34 * 512 + 56, true)]).toEqual([100, 38]);
    expect(handReadAreas(dev.bytes, CS)).toEqual([...built.pairs, [100, 38]]);
    const img = activate(dev.bytes);
    if (img instanceof Error) throw img;
    expect(pairsOf(img)).toEqual([...built.pairs, [100, 38]]);
  });
});

describe("prepare and commit", () => {
  it("skips metadata chunks and reports NO_SPACE", async () => {
    const dev = blank(36); // chunks 0..35: area 0 at 1, data 2..33, area 1 at 34, data 35
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    const got: number[] = [];
    for (;;) {
      try {
        got.push(store.prepare());
      } catch (e) {
        expect(e).toBeInstanceOf(StoreError);
        expect((e as StoreError).code).toBe("NO_SPACE");
        break;
      }
    }
    expect(got[0]).toBe(2);
    expect(got).not.toContain(34);
    expect(got[got.length - 1]).toBe(35);
    expect(got.length).toBe(33);
  });

  it("batches: the area is written once when the last exception in flight commits", async () => {
    const dev = blank(40);
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    const before = dev.writes;
    const chunks = [store.prepare(), store.prepare(), store.prepare()];
    const results = chunks.map((n, i) => store.commit(100 + i, n));
    expect(await Promise.all(results)).toEqual([true, true, true]);
    expect(dev.writes - before).toBe(1);
  });

  it("a full area zeroes the next one first, then writes itself with flush-before + FUA", async () => {
    const sim = new SimDevice(new Uint8Array(80 * 512), new AutoScheduler());
    const store = await PersistentStore.open(sim, { chunkSize: CS });
    sim.writes = [];
    const cs = Array.from({ length: 32 }, () => store.prepare());
    const oks = await Promise.all(cs.map((n, i) => store.commit(i, n)));
    expect(oks.every(Boolean)).toBe(true);
    const w = sim.writes.map((r) => ({ chunk: r.offset / 512, flags: r.flags }));
    // area 1 sits at chunk 1 + (32 + 1) * 1 = 34
    expect(w).toEqual([
      { chunk: 34, flags: {} },
      { chunk: 1, flags: { flushBefore: true, fua: true } },
    ]);
    expect(store.currentArea).toBe(1);
    expect(store.currentIndex).toBe(0);
    const img = activate(sim.current);
    if (img instanceof Error) throw img;
    expect(img.exceptions.count).toBe(32);
    expect(img.currentArea).toBe(1);
  });

  it("writes each area, and zeroes the next, at the chunks the layout gives (hand-written offsets)", async () => {
    // 1-sector chunks, 140 chunks: areas at 1, 34, 67, 100, 133; 100 commits one at a time.
    const sim = new SimDevice(new Uint8Array(140 * 512), new AutoScheduler());
    const store = await PersistentStore.open(sim, { chunkSize: CS });
    sim.writes = [];
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < 100; i++) {
      const n = store.prepare();
      pairs.push([5000 + i, n]);
      expect(await store.commit(5000 + i, n)).toBe(true);
    }
    expect(pairs.map((p) => p[1])).toEqual(handAllocation(CS, 100));
    expect(pairs[99]![1]).toBe(104); // chunks 2..104 less the areas 34, 67 and 100
    const areaWrites = new Set(sim.writes.filter((r) => r.flags.fua).map((r) => r.offset));
    expect([...areaWrites].sort((a, b) => a - b)).toEqual([1, 34, 67, 100].map((c) => c * 512));
    const zeroed = sim.writes.filter((r) => !r.flags.fua).map((r) => r.offset);
    expect(zeroed).toEqual([34, 67, 100].map((c) => c * 512));
    expect(handReadAreas(sim.current, CS)).toEqual(pairs);
    expect(store.status()).toBe("105/140 5"); // next_free 105; header + areas 0..3
  });

  it("commit without prepare is refused", async () => {
    const store = await PersistentStore.open(blank(10), { chunkSize: CS });
    await expect(store.commit(1, 2)).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });

  it("a failed copy invalidates the store and reports failure", async () => {
    const store = await PersistentStore.open(blank(10), { chunkSize: CS });
    const n = store.prepare();
    expect(await store.commit(1, n, false)).toBe(false);
    expect(store.status()).toBe("Invalid");
  });
});

describe("drop", () => {
  it("writes an invalid header; reactivation gives an Invalid snapshot", async () => {
    const dev = blank(10);
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    expect(await store.commit(1, store.prepare())).toBe(true);
    await store.drop();
    const img = activate(dev.bytes);
    if (img instanceof Error) throw img;
    expect(img.state).toBe("invalid");
    expect(img.header.chunkSize).toBe(CS);
  });
});

describe("merge", () => {
  it("counts consecutive entries at the end and clears them", async () => {
    const dev = blank(80);
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    // origin chunks 7, 20, 21, 22 -> COW 2, 3, 4, 5: the last three are consecutive
    for (const o of [7, 20, 21, 22]) expect(await store.commit(o, store.prepare())).toBe(true);
    expect(await store.prepareMerge()).toEqual({ count: 3, lastOld: 22, lastNew: 5 });
    await store.commitMerge(3);
    const img = activate(dev.bytes);
    if (img instanceof Error) throw img;
    expect(pairsOf(img)).toEqual([[7, 2]]);
    expect(store.nextFree).toBe(3);
    expect(await store.prepareMerge()).toEqual({ count: 1, lastOld: 7, lastNew: 2 });
    await store.commitMerge(1);
    expect(await store.prepareMerge()).toEqual({ count: 0, lastOld: -1, lastNew: -1 });
  });

  it("steps back to the previous area when the current one is empty", async () => {
    const dev = blank(80);
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    const cs = Array.from({ length: 32 }, () => store.prepare());
    await Promise.all(cs.map((n, i) => store.commit(1000 + i, n)));
    expect(store.currentIndex).toBe(0);
    const r = await store.prepareMerge();
    expect(r.count).toBe(32);
    expect(r.lastNew).toBe(33);
    await store.commitMerge(32);
    const img = activate(dev.bytes);
    if (img instanceof Error) throw img;
    expect(img.exceptions.count).toBe(0);
    expect(dev.bytes.subarray(chunkOffset(CS, 1), chunkOffset(CS, 2)).every((b) => b === 0)).toBe(true);
  });
});

describe("entry encoding", () => {
  it("the commit fast path writes the same bytes as the format's writeEntry", async () => {
    const { writeEntry } = await import("@dmsnap/format");
    const dev = blank(200);
    const store = await PersistentStore.open(dev, { chunkSize: CS });
    const pairs: Array<[number, number]> = [[0, 2], [2 ** 32 + 5, 3], [2 ** 53 - 1, 4], [123456789012, 5]];
    for (const [o] of pairs) expect(await store.commit(o, store.prepare())).toBe(true);
    const expected = new Uint8Array(512);
    pairs.forEach(([o, n], i) => writeEntry(expected, i, o, n));
    expect(dev.bytes.subarray(512, 1024)).toEqual(expected);
  });
});
