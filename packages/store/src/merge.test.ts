/**
 * Offline merge:
 *  (a) the merged origin equals the snapshot view before the merge, and the
 *      COW is left empty (several chunk sizes, multi-area, partial last chunk,
 *      duplicates, tiny copy pieces, per-run and batched commits);
 *  (b) interruption at every step: the merge runs on crash-simulating devices
 *      (origin and COW on one clock); for every moment of the write/flush log
 *      and several choices of which non-durable writes landed (none, all, torn
 *      random subsets, per device), the crash state is materialised, merged
 *      again to completion, and must give the snapshot view and an empty COW;
 *  (c) teeth: the same harness must catch a merge that clears entries before
 *      the copy, or without flushing the origin first;
 *  (d) every crash state's COW activates as a valid snapshot whose exceptions
 *      are a prefix of the original list (what the kernel could continue).
 * Replay a seed: DMSNAP_SIM_SEED=<seed> pnpm vitest run packages/store/src/merge.test.ts
 * More seeds: DMSNAP_SIM_SEEDS=<n>.
 */
import { describe, expect, it } from "vitest";
import { chunkOffset, type CowImage } from "@dmsnap/format";
import { AutoScheduler, SimDevice, type WriteRecord } from "./crash.js";
import { MemoryDevice } from "./device.js";
import { isStoreError, StoreErrorCode } from "./errors.js";
import { FaultDevice } from "./fault.js";
import { mergeSnapshot, MergeRefusal, type MergeOptions } from "./merge.js";
import { Rng } from "./rng.js";
import { Snapshot } from "./snapshot.js";
import { PersistentStore } from "./store.js";
import { activate, handReadAreas, seeds } from "./testkit.js";

interface Built {
  seed: number;
  chunkSize: number;
  origin: Uint8Array;
  cow: Uint8Array;
  /** The snapshot view before the merge. */
  view: Uint8Array;
  pairs: Array<[number, number]>;
}

/** A snapshot built with the store engine: origin writes (runs of chunks) and snapshot writes. */
async function build(seed: number, shape: { chunkSize: number; originChunks: number; writes: number; partial?: boolean }): Promise<Built> {
  const rng = new Rng(seed);
  const cb = shape.chunkSize * 512;
  const size = shape.originChunks * cb - (shape.partial ? 1 + rng.int(cb - 1) : 0);
  const origin = new MemoryDevice(rng.bytes(size));
  const cow = new MemoryDevice((shape.originChunks + 8 + Math.ceil(shape.originChunks / (cb / 16))) * cb);
  const snap = await Snapshot.open(origin, cow, { chunkSize: shape.chunkSize });
  for (let i = 0; i < shape.writes; i++) {
    const off = rng.int(size);
    const len = 1 + rng.int(Math.min(size - off, cb * (1 + rng.int(4))));
    if (rng.chance(0.25)) await snap.writeSnapshot(off, rng.bytes(len));
    else await snap.writeOrigin(off, rng.bytes(len));
  }
  await snap.idle();
  expect(snap.valid).toBe(true);
  const view = await snap.read(0, size);
  const img = activate(cow.bytes) as CowImage;
  // The engine's areas, read where the layout rules put them (by hand, not by layout.ts).
  expect(handReadAreas(cow.bytes, shape.chunkSize)).toEqual(img.exceptions.toPairs());
  return { seed, chunkSize: shape.chunkSize, origin: origin.bytes.slice(), cow: cow.bytes.slice(), view, pairs: img.exceptions.toPairs() };
}

function shapeFor(seed: number): { chunkSize: number; originChunks: number; writes: number; partial: boolean } {
  const rng = new Rng(seed ^ 0x5eed);
  const chunkSize = [1, 1, 2, 8][rng.int(4)]!;
  // chunk size 1: 32 entries an area, so these workloads span several areas
  return { chunkSize, originChunks: 24 + rng.int(60), writes: 8 + rng.int(20), partial: rng.chance(0.4) };
}

function emptyCow(bytes: Uint8Array, chunkSize: number): string | null {
  const img = activate(bytes);
  if (img instanceof Error) return `activation refused the COW: ${img.message}`;
  if (img.state !== "valid") return `the COW is ${img.state}`;
  if (img.exceptions.count !== 0) return `${img.exceptions.count} exceptions remain`;
  const a0 = chunkOffset(chunkSize, 1); // area 0 is chunk 1
  if (bytes.subarray(a0, a0 + chunkSize * 512).some((b) => b !== 0)) return "area 0 is not all zero";
  return null;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

async function mergeMemory(origin: Uint8Array, cow: Uint8Array, options: Partial<MergeOptions> = {}) {
  const o = new MemoryDevice(origin.slice());
  const c = new MemoryDevice(cow.slice());
  const r = await mergeSnapshot({ ...options, origin: o, cow: c });
  return { r, origin: o.bytes, cow: c.bytes };
}

describe("merge: result", () => {
  it("the merged origin equals the snapshot view and the COW is empty (random snapshots)", async () => {
    let merged = 0;
    for (const seed of seeds(24, 61)) {
      const b = await build(seed, shapeFor(seed));
      for (const options of [{}, { batchBytes: 0 }, { batchBytes: 3 * b.chunkSize * 512, copyBytes: 512 }]) {
        const { r, origin, cow } = await mergeMemory(b.origin, b.cow, options);
        const at = firstDiff(origin, b.view);
        if (at >= 0) throw new Error(`seed ${seed} ${JSON.stringify(options)}: origin differs from the view at byte ${at}`);
        expect(emptyCow(cow, b.chunkSize)).toBeNull();
        expect(r.merged).toBe(b.pairs.length);
        if (options.batchBytes === 0) expect(r.commits).toBeGreaterThanOrEqual(1);
        merged += r.merged;
      }
    }
    expect(merged).toBeGreaterThan(0);
  });

  it("a multi-area snapshot: areas are stepped back through, runs committed one by one like the kernel", async () => {
    const b = await build(7, { chunkSize: 1, originChunks: 200, writes: 60 });
    expect(b.pairs.length).toBeGreaterThan(64); // > two areas of 32
    const perRun = await mergeMemory(b.origin, b.cow, { batchBytes: 0 });
    const batched = await mergeMemory(b.origin, b.cow);
    expect(perRun.origin).toEqual(b.view);
    expect(batched.origin).toEqual(b.view);
    expect(perRun.r.commits).toBeGreaterThan(batched.r.commits);
    // kernel runs: old and new both step down by one, within an area
    let runs = 0;
    for (let g = b.pairs.length - 1; g >= 0; ) {
      let k = 1;
      while (g - k >= Math.floor(g / 32) * 32 && b.pairs[g - k]![0] === b.pairs[g]![0] - k && b.pairs[g - k]![1] === b.pairs[g]![1] - k) k++;
      runs++;
      g -= k;
    }
    expect(perRun.r.commits).toBe(runs);
  });

  it("duplicate old_chunk: the first entry wins (as the view and the kernel serve it); later copies are skipped", async () => {
    const cs = 2;
    const cb = cs * 512;
    const rng = new Rng(3);
    const originBytes = rng.bytes(10 * cb);
    const cowDev = new MemoryDevice(30 * cb);
    const store = await PersistentStore.open(cowDev, { chunkSize: cs });
    // origin chunk 4 mapped three times (COW 2, 5, 6), chunk 5 once (COW 3), chunk 6 once (COW 4)
    const entries: Array<[number, number]> = [[4, 2], [5, 3], [6, 4], [4, 5], [4, 6]];
    for (const [o, n] of entries) {
      store.prepare();
      await cowDev.write(chunkOffset(cs, n), rng.bytes(cb));
      expect(await store.commit(o, n)).toBe(true);
    }
    const view = await (await Snapshot.open(new MemoryDevice(originBytes.slice()), new MemoryDevice(cowDev.bytes.slice()))).read(0, originBytes.length);
    expect(view.subarray(4 * cb, 5 * cb)).toEqual(cowDev.bytes.subarray(2 * cb, 3 * cb));
    const { r, origin, cow } = await mergeMemory(originBytes, cowDev.bytes);
    expect(origin).toEqual(view);
    expect(r.skippedDuplicates).toBe(2);
    expect(r.copiedChunks).toBe(3);
    expect(emptyCow(cow, cs)).toBeNull();
  });

  it("a blank COW: nothing to merge, nothing written", async () => {
    const origin = new MemoryDevice(new Rng(1).bytes(8192));
    const cow = new MemoryDevice(16384);
    const r = await mergeSnapshot({ origin, cow });
    expect(r).toMatchObject({ state: "new", merged: 0 });
    expect(cow.writes + origin.writes).toBe(0);
  });

  it("an empty valid snapshot: nothing to copy; merging twice is a no-op", async () => {
    const b = await build(5, { chunkSize: 8, originChunks: 10, writes: 4 });
    const once = await mergeMemory(b.origin, b.cow);
    const twice = await mergeMemory(once.origin, once.cow);
    expect(twice.r).toMatchObject({ state: "valid", exceptions: 0, merged: 0, commits: 0 });
    expect(twice.origin).toEqual(b.view);
    expect(twice.cow).toEqual(once.cow);
  });

  async function refusal(prepare: (store: PersistentStore, cow: MemoryDevice) => Promise<void>, originChunks = 10): Promise<unknown> {
    const cs = 2;
    const origin = new MemoryDevice(new Rng(9).bytes(originChunks * 1024));
    const cow = new MemoryDevice(20 * 1024);
    const store = await PersistentStore.open(cow, { chunkSize: cs });
    await prepare(store, cow);
    const before = [origin.bytes.slice(), cow.bytes.slice()];
    const writes = [origin.writes, cow.writes];
    const e = await mergeSnapshot({ origin, cow }).then(
      () => null,
      (err: unknown) => err,
    );
    expect([origin.writes, cow.writes]).toEqual(writes);
    expect([origin.bytes, cow.bytes]).toEqual(before);
    return e;
  }

  it("refuses before writing anything: invalid snapshot, COW chunk past the end or on metadata, origin chunk past the end", async () => {
    const commit = async (store: PersistentStore, o: number, n: number) => {
      store.prepare();
      expect(await store.commit(o, n)).toBe(true);
    };
    const invalid = await refusal(async (store) => {
      await commit(store, 1, 2);
      await store.drop();
    });
    expect(isStoreError(invalid, StoreErrorCode.SnapshotInvalid)).toBe(true);
    const beyond = await refusal(async (store) => {
      await commit(store, 1, 2);
      await commit(store, 2, 25);
    });
    expect(beyond).toBeInstanceOf(MergeRefusal);
    expect((beyond as MergeRefusal).code).toBe("NEW_CHUNK_BEYOND_DEVICE");
    expect((beyond as MergeRefusal).exitCode).toBe(1);
    const meta = await refusal(async (store) => {
      await commit(store, 1, 2);
      await commit(store, 2, 1); // chunk 1: area 0
    });
    expect((meta as MergeRefusal).code).toBe("NEW_CHUNK_IS_METADATA");
    const past = await refusal(async (store) => {
      await commit(store, 1, 2);
      await commit(store, 10, 3);
    });
    expect((past as MergeRefusal).code).toBe("OLD_CHUNK_BEYOND_ORIGIN");
    expect((past as MergeRefusal).message).toMatch(/dmsnap check/);
  });

  it("an I/O error after any number of writes leaves a COW that a second merge completes", async () => {
    const b = await build(11, { chunkSize: 1, originChunks: 70, writes: 16, partial: true });
    const clean = await mergeMemory(b.origin, b.cow, { batchBytes: 0 });
    let failures = 0;
    for (let k = 0; ; k++) {
      const o = new MemoryDevice(b.origin.slice());
      const c = new MemoryDevice(b.cow.slice());
      let ops = 0;
      const fail = () => ops++ >= k;
      const err = await mergeSnapshot({ origin: new FaultDevice(o, (op) => op.kind !== "read" && fail()), cow: new FaultDevice(c, (op) => op.kind !== "read" && fail()), batchBytes: 0 }).then(
        () => null,
        (e: unknown) => e,
      );
      if (err === null) break;
      expect(isStoreError(err, StoreErrorCode.IoError)).toBe(true);
      failures++;
      await mergeSnapshot({ origin: o, cow: c });
      expect(o.bytes).toEqual(b.view);
      expect(emptyCow(c.bytes, 1)).toBeNull();
    }
    expect(failures).toBeGreaterThan(clean.r.commits);
  });
});

interface CrashReport {
  states: number;
  failures: string[];
}

type Mode = "none" | "all" | "random";

/**
 * Runs the merge on crash-simulating devices and resumes from every crash state.
 * Returns the failures instead of throwing, so the teeth test can count them.
 */
async function interrupt(b: Built, options: Partial<MergeOptions>, stopAfter = Infinity): Promise<CrashReport> {
  const rng = new Rng(b.seed * 7 + 1);
  const scheduler = new AutoScheduler(rng);
  const cow = new SimDevice(b.cow, scheduler);
  const origin = new SimDevice(b.origin, scheduler);
  // One clock for both devices: a crash is one moment for the whole machine.
  Object.defineProperty(origin, "now", { get: () => cow.now, set: (v: number) => (cow.now = v) });
  await mergeSnapshot({ ...options, origin, cow });

  const points = [...new Set([...cow.crashPoints(), ...origin.crashPoints()])].sort((x, y) => x - y);
  const failures: string[] = [];
  let states = 0;
  const image = (dev: SimDevice, t: number, mode: Mode): Uint8Array =>
    mode === "random" ? dev.randomCrashImage(t, rng) : dev.crashImage(t, (_w: WriteRecord) => mode, rng);
  const combos: Array<[Mode, Mode]> = [["none", "none"], ["all", "all"], ["none", "all"], ["all", "none"], ["random", "random"], ["random", "random"]];
  for (const t of points) {
    for (const [om, cm] of combos) {
      if (failures.length >= stopAfter) return { states, failures };
      states++;
      const step = `seed ${b.seed} (chunk size ${b.chunkSize}, ${b.pairs.length} exceptions), crash at t=${t} of ${cow.now}, origin writes ${om}, COW writes ${cm}`;
      const o = image(origin, t, om);
      const c = image(cow, t, cm);
      // (d) what the kernel would find: a valid snapshot whose list is a prefix of the original
      const img = activate(c);
      if (img instanceof Error || img.state !== "valid") {
        failures.push(`${step}: the COW does not activate as a valid snapshot (${img instanceof Error ? img.message : img.state})`);
        continue;
      }
      const left = img.exceptions.toPairs();
      if (left.length > b.pairs.length || left.some((p, i) => p[0] !== b.pairs[i]![0] || p[1] !== b.pairs[i]![1])) {
        failures.push(`${step}: the remaining ${left.length} exceptions are not a prefix of the original list`);
        continue;
      }
      const od = new MemoryDevice(o);
      const cd = new MemoryDevice(c);
      try {
        await mergeSnapshot({ origin: od, cow: cd });
      } catch (e) {
        failures.push(`${step}: the resumed merge failed: ${(e as Error).message}`);
        continue;
      }
      const at = firstDiff(od.bytes, b.view);
      if (at >= 0) failures.push(`${step}: after resuming, the origin differs from the snapshot view at byte ${at} (chunk ${Math.floor(at / (b.chunkSize * 512))})`);
      const empty = emptyCow(cd.bytes, b.chunkSize);
      if (empty) failures.push(`${step}: after resuming, ${empty}`);
    }
  }
  return { states, failures };
}

describe("merge: interruption at every step", () => {
  const SEEDS = seeds(16, 62);
  it(`every crash state of ${SEEDS.length} merges resumes to the snapshot view, and the kernel could continue each`, async () => {
    let states = 0;
    for (const seed of SEEDS) {
      const shape = shapeFor(seed);
      const b = await build(seed, { ...shape, originChunks: Math.min(shape.originChunks, 48) });
      // per-run commits (the kernel's pace: most crash points), batched commits with small copy pieces,
      // and batches across areas (one origin flush, then the areas cleared last first) with multi-chunk reads
      for (const options of [{ batchBytes: 0 }, { batchBytes: 4 * b.chunkSize * 512, copyBytes: 512 }, { batchBytes: 40 * b.chunkSize * 512 }]) {
        const r = await interrupt(b, options);
        states += r.states;
        if (r.failures.length > 0) {
          throw new Error(`${r.failures.length} of ${r.states} crash states failed (${JSON.stringify(options)}); first:\n  ${r.failures[0]}\n  replay: DMSNAP_SIM_SEED=${seed} pnpm vitest run packages/store/src/merge.test.ts`);
        }
      }
    }
    console.log(`merge: ${SEEDS.length} seeds, resumed from ${states} crash states, all reached the snapshot view with an empty COW`);
    expect(states).toBeGreaterThan(0);
  }, 120_000);

  it("has teeth: clearing entries before the copy, or without flushing the origin, is caught", async () => {
    for (const unsafeOrdering of ["clear-before-copy", "no-origin-flush"] as const) {
      // per run, and in batches across areas
      for (const batchBytes of [0, 40 * 2 * 512]) {
        const caught: string[] = [];
        for (const seed of seeds(3, 63)) {
          const b = await build(seed, { chunkSize: 2, originChunks: 24, writes: 8 });
          caught.push(...(await interrupt(b, { batchBytes, unsafeOrdering }, 1)).failures);
        }
        expect(caught.length, `${unsafeOrdering}, batchBytes ${batchBytes}`).toBeGreaterThan(0);
        console.log(`merge teeth (${unsafeOrdering}, batchBytes ${batchBytes}) caught: ${caught[0]}`);
      }
    }
  }, 60_000);
});
