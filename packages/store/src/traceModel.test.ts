/**
 * The tracer's abstraction on a run driven by hand: the events and fields
 * below are written out from the model's definitions (spec/DmSnapStore.tla),
 * not computed by the tracer. TLC's acceptance of whole runs, and its
 * rejection of their mutants, is `pnpm spec`'s trace validation.
 */
import { describe, expect, it } from "vitest";
import { ManualScheduler, SimDevice } from "./crash.js";
import { Rng } from "./rng.js";
import { PersistentStore } from "./store.js";
import { activate, drain } from "./testkit.js";
import { activationOf, ModelTracer, staleCowImage } from "./traceModel.js";
import { mutantsOf } from "./traceMutants.js";

async function settleAll(s: ManualScheduler): Promise<void> {
  while (s.pending.length > 0) {
    s.completeAt(0);
    await drain(1);
  }
}

/** Chunk size 1 (E = 32), 40 chunks: two exceptions committed in one batch, then an invalidation. */
async function run() {
  const sched = new ManualScheduler();
  const cow = new SimDevice(staleCowImage(40 * 512, 1, new Rng(7)), sched, { flushAtSubmit: true });
  const tracer = new ModelTracer(1, cow);
  cow.tracer = tracer;
  const opening = PersistentStore.open(cow, { chunkSize: 1, tracer });
  await drain(1);
  await settleAll(sched);
  const store = await opening;
  const a = store.prepare();
  const b = store.prepare();
  void cow.write(a * 512, new Uint8Array(512).fill(1)); // the copies
  void cow.write(b * 512, new Uint8Array(512).fill(2));
  await drain(1);
  sched.completeAt(0); // copy of the first exception lands
  const c1 = store.commit(100, a);
  await drain(1);
  sched.completeAt(0); // copy of the second
  const c2 = store.commit(101, b);
  await drain(1);
  await settleAll(sched); // the area write
  expect([await c1, await c2]).toEqual([true, true]);
  await Promise.all([store.drop(), settleAll(sched)]);
  return { tracer, cow };
}

const zeros = (n: number) => new Array<number>(n).fill(0);

describe("ModelTracer", () => {
  it("names the engine's steps as the model's actions, with the fields the model pins", async () => {
    const { tracer } = await run();
    expect(tracer.events.map((s) => s.ev)).toEqual([
      { a: "Prepare", e: 1, chunk: 2 },
      { a: "Prepare", e: 2, chunk: 3 },
      { a: "CopyDone", e: 1 },
      { a: "CommitStart", e: 1, idx: 1, next: "idle" }, // batched: exception 2 is still in flight
      { a: "CopyDone", e: 2 },
      { a: "CommitStart", e: 2, idx: 2, next: "prewrite" },
      { a: "IssueArea", area: 0, valid: 1, flush: true },
      { a: "AreaDone", chunk: 1, slots: [1, 2, ...zeros(30)] },
      { a: "Finish", full: false, ok: true },
      { a: "Invalidate", buffer: "header" },
      { a: "HeaderDone", slots: [-2, ...zeros(31)] }, // HDR_INVALID, then zeros
    ]);
  });

  it("logs a failed header write as FailHeaderWrite and its retry as RetryHeaderWrite, then the write that lands", async () => {
    const sched = new ManualScheduler();
    const cow = new SimDevice(staleCowImage(40 * 512, 1, new Rng(7)), sched, { flushAtSubmit: true });
    const tracer = new ModelTracer(1, cow);
    cow.tracer = tracer;
    const opening = PersistentStore.open(cow, { chunkSize: 1, tracer });
    await drain(1);
    await settleAll(sched);
    const store = await opening;
    const dropping = store.drop();
    await drain(1);
    sched.completeAt(0, new Error("EIO (injected)"));
    await dropping;
    expect(store.headerWrite).toBe("failed");
    const retrying = store.retryHeaderWrite();
    await drain(1);
    await settleAll(sched);
    await retrying;
    expect(store.headerWrite).toBe("done");
    expect(tracer.events.map((s) => s.ev)).toEqual([
      { a: "Invalidate", buffer: "header" },
      { a: "FailHeaderWrite" },
      { a: "RetryHeaderWrite" },
      { a: "HeaderDone", slots: [-2, ...zeros(31)] },
    ]);
    // a trace with a failed write is a behaviour of the model with I/O errors
    expect(tracer.trace("t").constants.IOErrors).toBe(true);
  });

  it("abstracts a crash image and its activation", async () => {
    const { tracer, cow } = await run();
    const image = cow.crashImage(cow.now, () => "all", new Rng(1));
    const ev = tracer.crashEvent(image, activationOf(activate(image, 1)));
    expect(ev).toMatchObject({ a: "Crash", status: "invalid", loaded: [], data: [1, 1] });
    if (ev.a !== "Crash") throw new Error("not a crash");
    expect(ev.hdr).toEqual([-2, ...zeros(31)]);
    expect(ev.areas[0]).toEqual([1, 2, ...zeros(30)]);
    // area 1 (chunk 34): an earlier snapshot's leftovers, as the model's initial disk has them
    expect(ev.areas[1]![0]).toBe(-1);
    // ... and that stale area is at chunk 1 + 33 = 34 on the disk: one entry (an old_chunk >= 2^20), then zeros.
    const v = new DataView(image.buffer, image.byteOffset);
    expect(v.getUint32(34 * 512, true)).toBeGreaterThanOrEqual(2 ** 20);
    expect(v.getUint32(34 * 512 + 8, true)).toBeGreaterThanOrEqual(2);
    expect(image.subarray(34 * 512 + 16, 35 * 512).every((b) => b === 0)).toBe(true);
  });

  it("makes mutants that each differ from the run at their mutation, the same every time", async () => {
    const { tracer } = await run();
    const trace = tracer.trace("hand");
    const a = mutantsOf(trace, 0, 2);
    const b = mutantsOf(trace, 0, 2);
    expect(a).toEqual(b);
    expect(a.length).toBe(2);
    for (const m of a) {
      expect(m.events[m.mutant.at]).not.toEqual(trace.events[m.mutant.at]);
      expect(m.events.slice(0, m.mutant.at)).toEqual(trace.events.slice(0, m.mutant.at));
    }
    expect(new Set([...mutantsOf(trace, 0, 1), ...mutantsOf(trace, 1, 1), ...mutantsOf(trace, 2, 1)].map((m) => m.mutant.kind.split(/[ :]/)[0]))).toEqual(new Set(["swap", "flip", "drop-flush"]));
  });
});
