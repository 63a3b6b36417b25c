/**
 * The seed's race (2009): the snapshot is dropped while a commit completes.
 * The TLA+ counterexample's interleaving, driven step by step:
 *   1. an exception is prepared (in flight);
 *   2. drop starts: valid = 0, header built, header write submitted (in flight);
 *   3. the commit runs: its entry goes into the in-memory area at index 0;
 *   4. the header write completes, taking its bytes from its buffer at completion (DMA).
 * With the header in its own buffer the header stays well formed. With the
 * shared buffer (the pre-fix kernel, a test-only switch) chunk 0 receives
 * the exception entry: a wrong magic, chunk size 0.
 */
import { describe, expect, it } from "vitest";
import { ErrorCode, FormatError, SNAP_MAGIC } from "@dmsnap/format";
import { ManualScheduler, SimDevice } from "./crash.js";
import { PersistentStore } from "./store.js";
import { activate, drain } from "./testkit.js";

async function completeAll(s: ManualScheduler): Promise<void> {
  while (s.pending.length > 0) {
    s.completeAt(0);
    await drain();
  }
}

/** Runs the counterexample's interleaving; returns what activation makes of the COW afterwards. */
export async function raceScenario(shared: boolean) {
  const sched = new ManualScheduler();
  const dev = new SimDevice(new Uint8Array(16 * 512), sched);
  const opening = PersistentStore.open(dev, { chunkSize: 1, ...(shared ? { unsafeSharedHeaderBuffer: true } : {}) }); // default: own buffer, unless the DMSNAP_UNSAFE_SHARED_HEADER mutation run
  await drain();
  await completeAll(sched);
  const store = await opening;

  const newChunk = store.prepare(); // 1. one exception in flight (origin chunk 7 -> COW 2)
  const dropping = store.drop(); // 2. header write in flight
  await drain();
  const headerWrite = sched.find((op) => op.kind === "write" && op.offset === 0);
  expect(headerWrite).toBeGreaterThanOrEqual(0);
  const committed = store.commit(7, newChunk); // 3. the commit lands while the header write is in flight
  await drain();
  sched.completeAt(sched.find((op) => op.kind === "write" && op.offset === 0)); // 4. header write completes
  await drain();
  await completeAll(sched);
  await dropping;
  const ok = await committed;
  return { ok, image: activate(dev.current), header: dev.current.slice(0, 16) };
}

describe("the 2009 header race", () => {
  it("keeps the header well formed when a commit completes during the header write", async () => {
    const { ok, image } = await raceScenario(false);
    expect(ok).toBe(false); // the commit reports the invalidation
    if (image instanceof Error) throw image;
    expect(image.header.magic).toBe(SNAP_MAGIC);
    expect(image.header.chunkSize).toBe(1);
    expect(image.state).toBe("invalid");
  });

  it("has teeth: with the header built in the area buffer the same interleaving corrupts chunk 0", async () => {
    const { image, header } = await raceScenario(true);
    // chunk 0 holds the exception entry {old 7, new 2}: magic 7, chunk size 0
    expect(Array.from(header)).toEqual([7, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
    expect(image).toBeInstanceOf(FormatError);
    expect((image as FormatError).code).toBe(ErrorCode.BadMagic);
  });
});
