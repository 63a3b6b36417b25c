/**
 * I/O errors at each kind of write: the store becomes invalid, the callbacks
 * in flight report failure, and nothing acknowledged is lost (the areas on
 * disk still hold every acknowledged entry: flipping the valid word back, as
 * the 2011 recovery did, shows them all).
 */
import { describe, expect, it } from "vitest";
import { type CowImage } from "@dmsnap/format";
import { damage } from "@dmsnap/format/testing";
import { MemoryDevice } from "./device.js";
import { FaultDevice, type FaultOp } from "./fault.js";
import { PersistentStore } from "./store.js";
import { Rng } from "./rng.js";
import { Snapshot } from "./snapshot.js";
import { activate, handReadAreas } from "./testkit.js";

const CS = 1;
const CB = 512;
type Kind = "copy" | "zero-next-area" | "area" | "snapshot-data" | "flush";

function kindOf(op: FaultOp): string {
  if (op.kind !== "write") return op.kind;
  const chunk = Math.floor(op.offset / CB);
  // By hand, not from layout.ts: chunk 0 is the header, areas are chunks 1, 34, 67, ... (E = 32).
  if (chunk === 0) return "header";
  if ((chunk - 1) % 33 === 0) return op.flags.fua ? "area" : "zero-next-area";
  return op.length === CB && op.offset % CB === 0 ? "copy" : "snapshot-data";
}

async function faultRun(kind: Kind, seed: number) {
  const rng = new Rng(seed);
  const originChunks = 80;
  const origin = new MemoryDevice(rng.bytes(originChunks * CB));
  const mem = new MemoryDevice(new Uint8Array(120 * CB));
  const fdev = new FaultDevice(mem);
  const snap = await Snapshot.open(origin, fdev, { chunkSize: CS });
  const acked: Array<[number, number]> = [];
  const results: boolean[] = [];
  const store = snap.store;
  const real = store.commit.bind(store);
  store.commit = (o, n, ok) => {
    const r = real(o, n, ok);
    r.then((good) => {
      results.push(good);
      if (good) acked.push([o, n]);
    });
    return r;
  };
  let seen = 0;
  // The failing write is any of its kind in the run (about 60 copies, 35 snapshot
  // writes, 12 area writes and flushes, one zeroing of area 1), so failures after
  // area 0 has filled are covered too.
  const target = 1 + rng.int({ copy: 55, "zero-next-area": 1, area: 10, "snapshot-data": 34, flush: 10 }[kind]);
  // flush: the file device's flush-before/FUA are flushes; model that as the area write failing after its flush
  fdev.failWhen = (op) => {
    const k = kind === "flush" ? (op.kind === "flush" ? "flush" : "") : kindOf(op);
    return k === kind && ++seen === target;
  };
  // Writes onto an area chunk (by hand: 1, 34, 67, ...) other than area writes
  // (FUA) and zeroings: a copy landing on metadata.
  const stray: number[] = [];
  const checkedWrite = fdev.write.bind(fdev);
  fdev.write = (offset, data, flags = {}) => {
    const chunk = Math.floor(offset / CB);
    if (chunk > 0 && (chunk - 1) % 33 === 0 && !flags.fua && data.some((b) => b !== 0)) stray.push(chunk);
    return checkedWrite(offset, data, flags);
  };
  const originalWrite = fdev.write.bind(fdev);
  if (kind === "flush") {
    // a device whose cache flush fails: flush-before is issued as a separate flush
    fdev.write = async (offset, data, flags = {}) => {
      if (flags.flushBefore) await fdev.flush();
      return originalWrite(offset, data, { ...flags, flushBefore: false });
    };
  }
  const ops: Promise<unknown>[] = [];
  for (let i = 0; i < 70; i++) {
    const c = i % 5 === 4 ? rng.int(originChunks) : i;
    const p = kind === "snapshot-data" && i % 2 === 0 ? snap.writeSnapshot(c * CB + 3, rng.bytes(10)) : snap.writeOrigin(c * CB + rng.int(CB - 1), rng.bytes(1));
    ops.push(p.then(() => "ok", (e) => e.code));
    if (i % 7 === 0) await Promise.all(ops);
  }
  const outcomes = await Promise.all(ops);
  await snap.idle();
  return { snap, mem, acked, results, outcomes, failedOps: fdev.failed.length, stray };
}

describe("I/O errors", () => {
  for (const kind of ["copy", "zero-next-area", "area", "snapshot-data", "flush"] as const) {
    it(`an error on a ${kind} write invalidates the snapshot and loses nothing acknowledged`, async () => {
      for (let seed = 1; seed <= 20; seed++) {
        const { snap, mem, acked, results, outcomes, failedOps, stray } = await faultRun(kind, seed);
        expect(failedOps, `seed ${seed}`).toBe(1);
        expect(stray, `seed ${seed}: data written onto area chunks`).toEqual([]);
        expect(snap.valid).toBe(false);
        expect(snap.status()).toBe("Invalid");
        // a failed store write fails the callbacks in flight; a failed snapshot data write fails the write itself
        if (kind !== "snapshot-data") expect(results).toContain(false);
        // once a callback reports failure, none after it reports success
        if (results.includes(false)) expect(results.slice(results.indexOf(false)).every((r) => r === false)).toBe(true);
        if (kind === "snapshot-data") expect(outcomes).toContain("IO_ERROR");
        const img = activate(mem.bytes) as CowImage;
        expect(img.state).toBe("invalid");
        const revived = activate(damage.setHeaderField(mem.bytes, "valid", 1)) as CowImage;
        const onDisk = new Map(revived.exceptions.toPairs());
        for (const [o, n] of acked) expect(onDisk.get(o), `seed ${seed}: acked ${o}->${n}`).toBe(n);
        // and they sit where the layout rules put the areas (read by hand)
        expect(handReadAreas(mem.bytes, CS), `seed ${seed}`).toEqual(revived.exceptions.toPairs());
      }
    });
  }

  it("a failed header write on drop leaves the snapshot invalid in memory and is reported", async () => {
    const mem = new MemoryDevice(new Uint8Array(20 * CB));
    const fdev = new FaultDevice(mem);
    const store = await PersistentStore.open(fdev, { chunkSize: CS });
    expect(await store.commit(4, store.prepare())).toBe(true);
    fdev.failWhen = (op) => op.kind === "write" && op.offset === 0;
    await store.drop();
    expect(store.status()).toBe("Invalid");
    expect(store.errors.map((e) => e.code)).toEqual(["IO_ERROR"]);
    expect(await store.commit(5, store.prepare())).toBe(false);
    const img = activate(mem.bytes) as CowImage;
    expect(img.exceptions.toPairs()).toEqual([[4, 2]]);
  });

  it("a failed origin write is reported and the snapshot stays valid", async () => {
    const rng = new Rng(3);
    const data = rng.bytes(8 * CB);
    const origin = new FaultDevice(new MemoryDevice(data.slice()), (op) => op.kind === "write");
    const snap = await Snapshot.open(origin, new MemoryDevice(20 * CB), { chunkSize: CS });
    await expect(snap.writeOrigin(CB, new Uint8Array(10))).rejects.toMatchObject({ code: "IO_ERROR" });
    expect(snap.valid).toBe(true);
    expect(await snap.read(0, data.length)).toEqual(data);
  });

  it("a failed read of the metadata refuses activation with IO_ERROR", async () => {
    const mem = new MemoryDevice(new Uint8Array(20 * CB));
    await PersistentStore.open(mem, { chunkSize: CS });
    const fdev = new FaultDevice(mem, (op) => op.kind === "read" && op.offset === 512); // area 0: chunk 1
    await expect(PersistentStore.open(fdev)).rejects.toMatchObject({ code: "IO_ERROR" });
  });
});
