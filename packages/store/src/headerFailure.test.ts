/**
 * A failed invalidation (issue #21 item 6, #20 item 3): the COW stops taking
 * writes under a running snapshot, so the copy of an origin chunk fails and
 * so does the header write that would mark the snapshot invalid. The origin
 * write must then fail and leave the origin alone: the COW still says
 * "valid", so an origin write now would put post-snapshot data under a
 * valid snapshot's view (what the engine did before: the next activation
 * found a valid snapshot with that chunk missing). Later origin writes that
 * need a copy retry the header write first; writes to chunks with a
 * committed exception go on.
 */
import { describe, expect, it } from "vitest";
import { MemoryDevice } from "./device.js";
import { FaultDevice } from "./fault.js";
import { Rng } from "./rng.js";
import { Snapshot } from "./snapshot.js";

const CS = 1;
const CB = 512;
const ORIGIN_CHUNKS = 16;

async function setup(cowChunks = 40) {
  const snapshotted = new Rng(7).bytes(ORIGIN_CHUNKS * CB);
  const origin = new MemoryDevice(snapshotted.slice());
  const mem = new MemoryDevice(new Uint8Array(cowChunks * CB));
  const cow = new FaultDevice(mem);
  const snap = await Snapshot.open(origin, cow, { chunkSize: CS });
  // Two exceptions committed while the COW works: chunks 1 and 2.
  await snap.writeOrigin(1 * CB, new Uint8Array(CB).fill(0xa1));
  await snap.writeOrigin(2 * CB + 5, new Uint8Array(3).fill(0xa2));
  const headerWrites = () => cow.failed.filter((op) => op.kind === "write" && op.offset === 0).length;
  return { snapshotted, origin, mem, cow, snap, headerWrites };
}

/** The COW becomes read-only: every write to it fails (the header chunk's too). */
const readOnly = (cow: FaultDevice) => (cow.failWhen = (op) => op.kind === "write");

/** What the next activation sees: the snapshot's state and its whole view. */
async function reactivate(origin: MemoryDevice, mem: MemoryDevice) {
  const again = await Snapshot.open(origin, new MemoryDevice(mem.bytes.slice()), { chunkSize: CS });
  return { valid: again.valid, view: again.valid ? await again.read(0, origin.size) : null };
}

const chunk = (bytes: Uint8Array, c: number) => bytes.slice(c * CB, (c + 1) * CB);

describe("an invalidation whose header write fails", () => {
  it("fails the origin write that triggered it, leaves the origin chunk alone, and the snapshot's view intact on disk", async () => {
    const { snapshotted, origin, mem, cow, snap, headerWrites } = await setup();
    const before = origin.bytes.slice();
    readOnly(cow);
    const err = await snap.writeOrigin(5 * CB, new Uint8Array(CB).fill(0x55)).then(
      () => null,
      (e: { code: string; message: string }) => e,
    );
    // First what the next activation sees: a valid snapshot (the COW still says so)
    // whose view must be the origin as snapshotted, chunk 5 included. The old
    // engine wrote the origin anyway: this view then held the new data.
    const next = await reactivate(origin, mem);
    expect(next.valid).toBe(true);
    expect(chunk(next.view!, 5), "the snapshot's view of chunk 5 after reactivation").toEqual(chunk(snapshotted, 5));
    expect(next.view).toEqual(snapshotted);
    expect(chunk(origin.bytes, 5), "origin chunk 5").toEqual(chunk(before, 5));
    expect(err, "the origin write must fail").not.toBeNull();
    expect(err!.code).toBe("IO_ERROR");
    expect(err!.message).toMatch(/^the origin write of 512 bytes at offset 2560 was not written: the snapshot had to be invalidated \(copying origin chunk 5 to COW chunk \d+ failed: injected EIO/);
    expect(err!.message).toContain("could not be marked invalid on the COW (writing the invalidated header failed: injected EIO");
    expect(err!.message).toContain("the COW still says the snapshot is valid, and its view is intact");
    expect(headerWrites()).toBe(1); // the header write was tried once, and failed
    expect(origin.bytes).toEqual(before);
    expect(snap.valid).toBe(false); // in memory the snapshot is gone
    expect(snap.store.headerWrite).toBe("failed");
  });

  it("a later origin write that needs a copy retries the header write and fails if it fails again; one to a chunk with an exception goes on", async () => {
    const { snapshotted, origin, mem, cow, snap, headerWrites } = await setup();
    readOnly(cow);
    await expect(snap.writeOrigin(5 * CB, new Uint8Array(4).fill(0x55))).rejects.toMatchObject({ code: "IO_ERROR" });
    const before = origin.bytes.slice();
    // Needs a copy (chunk 9 has no exception): the header is tried again, fails, nothing written.
    await expect(snap.writeOrigin(9 * CB, new Uint8Array(4).fill(0x99))).rejects.toMatchObject({ code: "IO_ERROR" });
    expect(headerWrites()).toBe(2);
    // A range that straddles chunk 2 (committed) and chunk 3 (not): it needs a copy too.
    await expect(snap.writeOrigin(3 * CB - 2, new Uint8Array(4).fill(0x33))).rejects.toMatchObject({ code: "IO_ERROR" });
    expect(headerWrites()).toBe(3);
    expect(origin.bytes).toEqual(before);
    // Chunks 1 and 2 have committed exceptions: their old data is safe in the COW.
    const post = new Uint8Array(CB + 10).fill(0x12);
    await snap.writeOrigin(1 * CB, post);
    expect(headerWrites()).toBe(3); // no header write needed
    expect(origin.bytes.subarray(CB, 2 * CB + 10)).toEqual(post);
    const next = await reactivate(origin, mem);
    expect(next.valid).toBe(true);
    expect(next.view).toEqual(snapshotted);
  });

  it("later origin writes issued together share one retried header write", async () => {
    const { origin, cow, snap, headerWrites } = await setup();
    readOnly(cow);
    await expect(snap.writeOrigin(5 * CB, new Uint8Array(4).fill(0x55))).rejects.toMatchObject({ code: "IO_ERROR" });
    const before = origin.bytes.slice();
    const results = await Promise.allSettled([8, 9, 10].map((c) => snap.writeOrigin(c * CB, new Uint8Array(4).fill(c))));
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(headerWrites()).toBe(2); // the first one, and one retry for all three
    expect(origin.bytes).toEqual(before);
  });

  it("once the COW takes writes again, the retried header write makes the invalidation durable and the origin write goes on", async () => {
    const { origin, mem, cow, snap } = await setup();
    readOnly(cow);
    await expect(snap.writeOrigin(5 * CB, new Uint8Array(4).fill(0x55))).rejects.toMatchObject({ code: "IO_ERROR" });
    cow.failWhen = () => false;
    const data = new Uint8Array(4).fill(0x77);
    await snap.writeOrigin(6 * CB, data);
    expect(snap.store.headerWrite).toBe("done");
    expect(origin.bytes.subarray(6 * CB, 6 * CB + 4)).toEqual(data);
    expect((await reactivate(origin, mem)).valid).toBe(false);
    // The invalidation is on disk: every later origin write goes on.
    await snap.writeOrigin(5 * CB, data);
    expect(origin.bytes.subarray(5 * CB, 5 * CB + 4)).toEqual(data);
  });

  it("origin writes that waited on the same failed header write all fail, with one header write", async () => {
    const { snapshotted, origin, mem, cow, snap, headerWrites } = await setup();
    const before = origin.bytes.slice();
    readOnly(cow);
    const results = await Promise.allSettled([
      snap.writeOrigin(5 * CB, new Uint8Array(4).fill(0x55)),
      snap.writeOrigin(6 * CB, new Uint8Array(4).fill(0x66)),
      snap.writeOrigin(7 * CB, new Uint8Array(CB * 2).fill(0x77)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect(headerWrites()).toBe(1);
    expect(origin.bytes).toEqual(before);
    const next = await reactivate(origin, mem);
    expect(next.valid).toBe(true);
    expect(next.view).toEqual(snapshotted);
  });

  it("a full COW whose header write fails: the origin write fails, not written", async () => {
    // Header, area 0, two data chunks (taken by setup's two exceptions): the next exception has no room.
    const { snapshotted, origin, mem, cow, snap } = await setup(4);
    const before = origin.bytes.slice();
    cow.failWhen = (op) => op.kind === "write" && op.offset === 0;
    await expect(snap.writeOrigin(5 * CB, new Uint8Array(4).fill(0x55))).rejects.toMatchObject({ code: "IO_ERROR" });
    expect(snap.errors[0]!.code).toBe("NO_SPACE");
    expect(origin.bytes).toEqual(before);
    const next = await reactivate(origin, mem);
    expect(next.valid).toBe(true);
    expect(next.view).toEqual(snapshotted);
  });
});
