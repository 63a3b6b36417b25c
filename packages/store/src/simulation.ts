/**
 * The deterministic simulation: one seed fixes a snapshot geometry and a
 * workload; a seeded scheduler completes the devices' I/O in random order
 * while origin writes, snapshot writes, snapshot reads and invalidations are
 * issued in between. Invariants are checked after every step; at the end the
 * devices are drained and the snapshot view, the origin and a reactivation
 * are compared with a model. Used by sim.test.ts; exported for replays.
 */
import { areaLocation, chunkAtByte, chunkBytes, chunkOffset, exceptionsPerArea, isMetadataChunk, SNAP_MAGIC, type CowImage } from "@dmsnap/format";
import { AutoScheduler, ManualScheduler, SimDevice } from "./crash.js";
import { isStoreError } from "./errors.js";
import { Rng } from "./rng.js";
import { Snapshot } from "./snapshot.js";
import { activate, drain } from "./settle.js";
import type { DeviceTracer, StoreTracer } from "./trace.js";

/** Share of seeds that cross areas, and the shortest such run (steps). */
const CROSSING_SHARE = 0.7;
const CROSSING_STEPS = 240;

export interface SimOptions {
  steps?: number;
  /** Build the header in the area buffer (the pre-2009 bug): the invariants must catch it. */
  unsafeSharedHeaderBuffer?: boolean;
  /**
   * Trace validation: the COW starts as `cowImage` (instead of blank), and
   * `attach` returns the tracer the store and the COW report to.
   */
  trace?: {
    cowImage(size: number, chunkSize: number): Uint8Array;
    attach(cow: SimDevice, chunkSize: number): StoreTracer & DeviceTracer;
  };
}

export interface SimStats {
  commitsAcked: number;
  invalidated: boolean;
  overflowed: boolean;
  steps: number;
}

export class SimFailure extends Error {
  override readonly name = "SimFailure";
}

export async function simulate(seed: number, options: SimOptions = {}): Promise<SimStats> {
  const rng = new Rng(seed);
  // Most seeds (70 %) cross areas: 1-sector chunks (the fewest entries an
  // area), an origin of 1¼ to 2¼ areas' worth of chunks, a COW with room past
  // area 1 and a longer run, so commits go on into area 1 and beyond. Decided
  // by its own stream: the other seeds keep their geometry and workload.
  const crossing = new Rng(seed ^ 0x2545f491).chance(CROSSING_SHARE);
  const drawnChunkSize = rng.chance(0.5) ? 1 : 2;
  const chunkSize = crossing ? 1 : drawnChunkSize;
  const cb = chunkBytes(chunkSize);
  const perArea = exceptionsPerArea(chunkSize);
  const originChunks = crossing ? perArea + 8 + rng.int(perArea) : 4 + rng.int(28);
  const originSize = chunkOffset(chunkSize, originChunks) - (rng.chance(0.3) ? 1 + rng.int(cb - 1) : 0);
  // Sometimes roomy, sometimes tight enough to fill; crossing: past area 1, sometimes into area 2.
  const cowChunks = crossing ? areaLocation(chunkSize, 1) + 2 + rng.int(originChunks) : rng.chance(0.35) ? 3 + rng.int(originChunks + 2) : areaLocation(chunkSize, 1) + 1 + rng.int(perArea);
  const overflow = rng.chance(0.3);
  const steps = options.steps ?? (crossing ? CROSSING_STEPS : 120) + rng.int(120);
  const sched = new ManualScheduler();
  const origin = new SimDevice(rng.bytes(originSize), sched, { record: false });
  const cow = new SimDevice(options.trace ? options.trace.cowImage(chunkOffset(chunkSize, cowChunks), chunkSize) : new Uint8Array(chunkOffset(chunkSize, cowChunks)), sched, { record: false });
  const tracer = options.trace?.attach(cow, chunkSize);
  cow.tracer = tracer;
  const fail = (msg: string): never => {
    throw new SimFailure(`seed ${seed} (chunk size ${chunkSize}, origin ${originChunks} chunks, COW ${cowChunks} chunks${crossing ? ", crossing areas" : ""}${overflow ? ", PO" : ""}): ${msg}\n  replay: DMSNAP_SIM_SEED=${seed} pnpm vitest run packages/store/src/sim.test.ts`);
  };

  const pump = async (until?: () => boolean) => {
    while (sched.pending.length > 0 && !(until?.() ?? false)) {
      sched.completeRandom(rng);
      await drain(1);
    }
    await drain(1);
  };

  const opening = Snapshot.open(origin, cow, { chunkSize, overflow, ...(options.unsafeSharedHeaderBuffer ? { unsafeSharedHeaderBuffer: true } : {}), ...(tracer ? { tracer } : {}) });
  await drain(1);
  await pump();
  const snap = await opening;

  // Model.
  const view = origin.initial.slice();
  const originModel = origin.initial.slice();
  const unknown = new Uint8Array(originChunks);
  const originBusy = new Uint8Array(originChunks);
  const snapBusy = new Uint8Array(originChunks);
  const snapGen = new Uint32Array(originChunks);
  const called = new Set<string>();
  const acked = new Map<number, number>();
  let outstanding = 0;
  let commitsAcked = 0;

  const store = snap.store;
  const realCommit = store.commit.bind(store);
  store.commit = (o: number, n: number, copyOk?: boolean) => {
    called.add(`${o},${n}`);
    const r = realCommit(o, n, copyOk);
    r.then((ok) => {
      if (ok) {
        acked.set(o, n);
        commitsAcked++;
      }
    });
    return r;
  };

  const chunksOf = (off: number, len: number): number[] => {
    const out: number[] = [];
    for (let c = chunkAtByte(chunkSize, off); c <= chunkAtByte(chunkSize, off + len - 1); c++) out.push(c);
    return out;
  };
  const pickRange = (): [number, number] => {
    const c = rng.int(originChunks);
    const start = chunkOffset(chunkSize, c) + (rng.chance(0.4) ? 0 : rng.int(cb));
    const max = Math.min(originSize - start, rng.chance(0.2) ? 2 * cb : cb);
    if (max <= 0) return [Math.max(0, originSize - 1), 1];
    const len = rng.chance(0.3) ? Math.min(max, cb - (start % cb)) : 1 + rng.int(max);
    return [start, len];
  };

  const check = (where: string) => {
    const img = activate(cow.current);
    if (img instanceof Error) fail(`${where}: the COW does not activate: ${img.message}`);
    const image = img as CowImage;
    if (image.header.magic !== SNAP_MAGIC) fail(`${where}: header magic lost`);
    if (image.state === "invalid" && snap.valid) fail(`${where}: header says invalid but the snapshot is valid`);
    if (image.state === "valid") {
      const onDisk = new Map<number, number>();
      const pairs = image.exceptions.toPairs();
      for (const [o, n] of pairs) {
        if (!called.has(`${o},${n}`)) fail(`${where}: entry ${o}->${n} on disk was never committed`);
        onDisk.set(o, n);
      }
      for (const [o, n] of acked) if (onDisk.get(o) !== n) fail(`${where}: acknowledged exception ${o}->${n} is missing on disk`);
    }
    if (isMetadataChunk(chunkSize, store.nextFree)) fail(`${where}: next_free ${store.nextFree} is a metadata chunk`);
    const seen = new Set<number>();
    snap.index.forEach((o, n) => {
      if (isMetadataChunk(chunkSize, n)) fail(`${where}: exception ${o} maps to metadata chunk ${n}`);
      if (n >= store.nextFree) fail(`${where}: exception ${o}->${n} beyond next_free ${store.nextFree}`);
      if (seen.has(n)) fail(`${where}: COW chunk ${n} used twice`);
      seen.add(n);
    });
    if (store.pendingCount < 0) fail(`${where}: negative pending count`);
  };

  const issueOriginWrite = () => {
    const [off, len] = pickRange();
    const cs = chunksOf(off, len);
    if (cs.some((c) => originBusy[c])) return;
    const data = rng.bytes(len);
    originModel.set(data, off);
    for (const c of cs) originBusy[c]!++;
    outstanding++;
    snap.writeOrigin(off, data).then(
      () => {
        outstanding--;
        for (const c of cs) originBusy[c]!--;
      },
      (e) => fail(`origin write ${off}+${len} failed: ${(e as Error).message}`),
    );
  };

  const issueSnapshotWrite = () => {
    if (!snap.valid) return;
    const [off, len] = pickRange();
    const cs = chunksOf(off, len);
    if (cs.some((c) => snapBusy[c])) return;
    const data = rng.bytes(len);
    view.set(data, off);
    for (const c of cs) {
      snapBusy[c]!++;
      snapGen[c]!++;
    }
    outstanding++;
    snap.writeSnapshot(off, data).then(
      () => {
        outstanding--;
        for (const c of cs) snapBusy[c]!--;
      },
      (e) => {
        outstanding--;
        for (const c of cs) {
          snapBusy[c]!--;
          unknown[c] = 1;
        }
        if (!isStoreError(e) || !["NO_SPACE", "OVERFLOW", "SNAPSHOT_INVALID"].includes(e.code)) fail(`snapshot write failed unexpectedly: ${(e as Error).message}`);
        if (e.code === "OVERFLOW" && !overflow) fail("Overflow without the PO option");
      },
    );
  };

  const issueRead = () => {
    if (!snap.valid) return;
    const [off, len] = pickRange();
    const cs = chunksOf(off, len);
    if (cs.some((c) => snapBusy[c] || unknown[c])) return;
    const gens = cs.map((c) => snapGen[c]!);
    const expected = view.slice(off, off + len);
    outstanding++;
    snap.read(off, len).then(
      (got) => {
        outstanding--;
        if (!snap.valid || cs.some((c, i) => snapGen[c] !== gens[i] || unknown[c])) return;
        for (let i = 0; i < len; i++) if (got[i] !== expected[i]) fail(`snapshot read ${off}+${len} differs from the view at byte ${off + i}`);
      },
      (e) => {
        outstanding--;
        if (!isStoreError(e, "SNAPSHOT_INVALID")) fail(`snapshot read failed: ${(e as Error).message}`);
      },
    );
  };

  for (let step = 0; step < steps; step++) {
    const r = rng.next();
    if (sched.pending.length > 0 && r < 0.55) sched.completeRandom(rng);
    else if (r < 0.75) issueOriginWrite();
    else if (r < 0.88) issueSnapshotWrite();
    else if (r < 0.999) issueRead();
    else void snap.invalidate();
    await drain(1);
    check(`step ${step}`);
  }
  // Quiesce: complete everything.
  for (let guard = 0; (sched.pending.length > 0 || outstanding > 0) && guard < 100000; guard++) {
    if (sched.pending.length > 0) sched.completeRandom(rng);
    await drain(1);
    check("drain");
  }
  if (outstanding > 0) fail(`${outstanding} operations never finished`);

  if (!snap.valid !== (activate(cow.current) as CowImage).state.startsWith("inv")) fail("in-memory and on-disk validity disagree after draining");
  for (let i = 0; i < originSize; i++) if (origin.current[i] !== originModel[i]) fail(`origin differs from the model at byte ${i}`);

  const compareView = async (s: Snapshot, label: string, run: () => Promise<void>) => {
    const reading = s.read(0, originSize);
    await run();
    const got = await reading;
    for (let c = 0; c < originChunks; c++) {
      if (unknown[c]) continue;
      for (let i = chunkOffset(chunkSize, c); i < Math.min(originSize, chunkOffset(chunkSize, c + 1)); i++) if (got[i] !== view[i]) fail(`${label}: view differs at byte ${i} (chunk ${c})`);
    }
  };
  if (snap.valid) await compareView(snap, "final view", () => pump());

  // Reactivation sees the same snapshot.
  const auto = new AutoScheduler();
  const again = await Snapshot.open(new SimDevice(origin.current, auto, { record: false }), new SimDevice(cow.current, auto, { record: false }));
  if (again.valid !== snap.valid) fail(`reactivation validity ${again.valid} differs from ${snap.valid}`);
  if (again.valid) {
    await compareView(again, "reactivated view", async () => {});
    if (again.store.nextFree > store.nextFree) fail("reactivation next_free past the running store's");
  }
  return { commitsAcked, invalidated: !snap.valid, overflowed: snap.overflowed, steps };
}
