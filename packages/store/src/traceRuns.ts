/**
 * Engine runs recorded as model behaviours, for trace validation
 * (spec/lib/traces.mjs checks them with TLC against spec/trace/):
 *  - simulationTrace: one seed of the deterministic simulation (sim.test.ts),
 *    over a COW that starts as the model's initial disk, ending with the
 *    activation of the drained device (every cached write landed);
 *  - crashTraces: one seed of the crash suite's workload (crash.test.ts's
 *    generator: origin writes, whole-chunk snapshot writes, rare invalidation,
 *    I/O completing in a seeded random order), cut at crash points, each
 *    ending with a crash image (any subset of the non-durable writes landed,
 *    whole; torn writes are not modelled) and its activation.
 */
import { chunkBytes, chunkOffset } from "@dmsnap/format";
import { AutoScheduler, ManualScheduler, SimDevice } from "./crash.js";
import { PersistentStore } from "./store.js";
import { MemoryDevice } from "./device.js";
import { isStoreError } from "./errors.js";
import { Rng } from "./rng.js";
import { simulate, type SimStats } from "./simulation.js";
import { Snapshot } from "./snapshot.js";
import { activate } from "./settle.js";
import { activationOf, ModelTracer, staleCowImage, type ModelTrace } from "./traceModel.js";

export interface TracedRun {
  traces: ModelTrace[];
  stats: { invalidated: boolean; overflowed: boolean; areasFilled: number };
}

function areasFilled(t: ModelTracer): number {
  return t.events.filter((s) => s.ev.a === "Finish" && s.ev.full).length;
}

export async function simulationTrace(seed: number): Promise<TracedRun> {
  const rng = new Rng((seed ^ 0x7ace) >>> 0);
  let tracer: ModelTracer | undefined;
  let cow: SimDevice | undefined;
  const stats: SimStats = await simulate(seed, {
    trace: {
      cowImage: (size, chunkSize) => staleCowImage(size, chunkSize, rng),
      attach: (dev, chunkSize) => {
        cow = dev;
        tracer = new ModelTracer(chunkSize, dev);
        return tracer;
      },
    },
  });
  const t = tracer!;
  const image = cow!.current;
  t.crash(image, activationOf(activate(image, t.chunkSize)));
  return { traces: [t.trace(`sim-${seed}`)], stats: { invalidated: stats.invalidated, overflowed: stats.overflowed, areasFilled: areasFilled(t) } };
}

async function crashRun(seed: number, long: boolean) {
  const rng = new Rng(seed);
  const chunkSize = long || rng.chance(0.6) ? 1 : 2;
  const cb = chunkBytes(chunkSize);
  const originChunks = long ? 40 + rng.int(40) : 8 + rng.int(40);
  const originSize = originChunks * cb - (rng.chance(0.3) ? 1 + rng.int(cb - 1) : 0);
  const cowChunks = long ? originChunks + 4 + rng.int(8) : rng.chance(0.7) ? 6 + rng.int(originChunks + 10) : 4 + rng.int(8);
  const origin = new MemoryDevice(rng.bytes(originSize));
  const cowRng = new Rng((seed ^ 0xc0a5) >>> 0);
  const cow = new SimDevice(staleCowImage(cowChunks * cb, chunkSize, cowRng), new AutoScheduler(rng), { flushAtSubmit: true });
  const tracer = new ModelTracer(chunkSize, cow);
  cow.tracer = tracer;
  const snap = await Snapshot.open(origin, cow, { chunkSize, tracer });

  const snapshotChunks = new Set<number>();
  const ops: Promise<unknown>[] = [];
  const n = long ? 60 + rng.int(60) : 10 + rng.int(40);
  for (let i = 0; i < n; i++) {
    const c = rng.int(originChunks);
    const len = Math.min(cb, originSize - c * cb);
    if (c % 3 === 0 && !snapshotChunks.has(c) && rng.chance(0.3)) {
      snapshotChunks.add(c);
      ops.push(snap.writeSnapshot(c * cb, rng.bytes(len)).catch((e) => (isStoreError(e) ? null : Promise.reject(e))));
    } else if (c % 3 !== 0) {
      const off = c * cb + rng.int(len);
      ops.push(snap.writeOrigin(off, rng.bytes(1 + rng.int(c * cb + len - off))));
    }
    if (rng.chance(0.3)) await Promise.race([...ops, new Promise((r) => setImmediate(r))]);
    if (rng.chance(0.01)) void snap.invalidate();
  }
  await Promise.all(ops);
  await snap.idle();
  return { tracer, cow, rng, chunkSize, cb, originChunks, snap };
}

/**
 * The crash suite's workload (crash.test.ts), traced; `points` crash moments,
 * each a trace. `long`: chunk size 1 and 40-80 origin chunks into a COW with
 * room for them, so that metadata areas fill (the crash suite's own sizes
 * rarely reach 32 exceptions).
 */
export async function crashTraces(seed: number, points: number, long = false): Promise<TracedRun> {
  const { tracer, cow, rng, chunkSize, snap } = await crashRun(seed, long);
  const all = cow.crashPoints();
  const traces: ModelTrace[] = [];
  for (let k = 0; k < points; k++) {
    // The last point is the end of the run; the others are random moments.
    const t = k === points - 1 ? all[all.length - 1]! : all[rng.int(all.length)]!;
    const image = cow.crashImage(t, () => (rng.chance(0.5) ? "none" : "all"), rng);
    const act = activationOf(activate(image, chunkSize));
    traces.push(tracer.trace(`crash-${seed}-t${t}`, t, [tracer.crashEvent(image, act)]));
  }
  return { traces, stats: { invalidated: !snap.valid, overflowed: false, areasFilled: areasFilled(tracer) } };
}

export interface RecordOptions {
  /** Simulation seeds (sim.test.ts's, salt 1). */
  sims?: number;
  /** Crash-suite seeds (crash.test.ts's, salt 2), `points` crashes each. */
  crashSeeds?: number;
  /** Crash-suite seeds again, with the long workload (full areas). */
  longSeeds?: number;
  /** Crashes per long run. */
  longPoints?: number;
  /** Crash-suite seeds again, long, crashed, reactivated, crashed again. */
  reloads?: number;
  /** The failed-invalidation run (headerFailureTrace); 0 leaves it out. */
  headerFailures?: number;
  points?: number;
}

export interface Recorded {
  traces: ModelTrace[];
  cover: { runs: number; invalidated: number; overflowed: number; areasFilled: number; crashes: number; events: number };
}

/**
 * The traces `pnpm spec` validates: seeds in order, except that runs showing
 * a rarer path come first (an overflow or an invalidation: up to half of the
 * simulation runs; a full area: every long crash run).
 */
export async function recordTraces(o: RecordOptions = {}): Promise<Recorded> {
  const select = async (salt: number, want: number, scan: number, run: (seed: number) => Promise<TracedRun>, rare: (s: TracedRun["stats"]) => boolean, share = 0.5) => {
    const first: TracedRun[] = [];
    const rest: TracedRun[] = [];
    for (let i = 0; i < scan && first.length < want; i++) {
      const r = await run((salt * 1_000_003 + i) >>> 0);
      (rare(r.stats) ? first : rest).push(r);
    }
    const quota = Math.ceil(want * share);
    return [...first.slice(0, quota), ...rest, ...first.slice(quota)].slice(0, want);
  };
  const points = o.points ?? 3;
  const runs = [
    ...(await select(1, o.sims ?? 30, 120, (s) => simulationTrace(s), (s) => s.overflowed || s.invalidated)),
    ...(await select(2, o.crashSeeds ?? 10, 10, (s) => crashTraces(s, points), () => false)),
    ...(await select(2, o.longSeeds ?? 6, 40, (s) => crashTraces(s, o.longPoints ?? 2, true), (s) => s.areasFilled > 0, 1)),
    ...(await select(2, o.reloads ?? 6, 16, async (s) => (await reactivationTrace(s)) ?? { traces: [], stats: { invalidated: false, overflowed: false, areasFilled: 0 } }, (s) => s.areasFilled > 0)),
    ...(o.headerFailures === 0 ? [] : [await headerFailureTrace(1)]),
  ];
  const cover = { runs: runs.length, invalidated: 0, overflowed: 0, areasFilled: 0, crashes: 0, events: 0 };
  const traces: ModelTrace[] = [];
  for (const r of runs) {
    cover.invalidated += r.stats.invalidated ? 1 : 0;
    cover.overflowed += r.stats.overflowed ? 1 : 0;
    cover.areasFilled += r.stats.areasFilled;
    for (const t of r.traces) {
      traces.push(t);
      cover.events += t.events.length;
      cover.crashes += t.events.some((e) => e.a === "Crash") ? 1 : 0;
    }
  }
  return { traces, cover };
}

/**
 * A failed invalidation, driven step by step: two exceptions committed in one
 * area write, then `drop`, whose header write fails (the model's
 * FailHeaderWrite: nothing of it written), then a crash with every write
 * landed: the COW still says valid, with both exceptions. The trace stops
 * there: what the store does next (RetryHeaderWrite) is the policy of
 * docs/store.md, "A failed invalidation", for which the model has no action yet.
 */
export async function headerFailureTrace(seed: number): Promise<TracedRun> {
  const sched = new ManualScheduler();
  const cb = chunkBytes(1);
  const cow = new SimDevice(staleCowImage(40 * cb, 1, new Rng(seed)), sched, { flushAtSubmit: true });
  const tracer = new ModelTracer(1, cow);
  cow.tracer = tracer;
  const settle = async (fail: (offset: number) => boolean = () => false) => {
    while (sched.pending.length > 0) {
      const op = sched.pending[0]!;
      sched.completeAt(0, op.kind === "write" && fail(op.offset) ? new Error("EIO (injected)") : undefined);
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  const opening = PersistentStore.open(cow, { chunkSize: 1, tracer });
  await settle();
  const store = await opening;
  const a = store.prepare();
  const b = store.prepare();
  void cow.write(chunkOffset(1, a), new Uint8Array(cb).fill(1)); // the copies
  void cow.write(chunkOffset(1, b), new Uint8Array(cb).fill(2));
  await settle();
  const commits = [store.commit(1000, a), store.commit(1001, b)];
  await settle();
  await Promise.all(commits);
  await Promise.all([store.drop(), settle((offset) => offset === 0)]);
  const image = cow.crashImage(cow.now, () => "all", new Rng(seed));
  tracer.crash(image, activationOf(activate(image, 1)));
  return { traces: [tracer.trace(`header-fail-${seed}`)], stats: { invalidated: true, overflowed: false, areasFilled: 0 } };
}

/**
 * Reactivation: the crash suite's long workload cut at a crash moment whose
 * image activates as a valid snapshot, the store reopened over that image
 * (the model's Reload: current area, entries and next_free as read back),
 * more origin writes on top, and a second crash at the end.
 */
export async function reactivationTrace(seed: number): Promise<TracedRun | null> {
  const first = await crashRun(seed, true);
  const { tracer, cow, rng, chunkSize, cb, originChunks } = first;
  // Crash after an area write landed, so that the reload has entries to resume after.
  const written = tracer.events.find((s) => s.ev.a === "AreaDone")?.t ?? 0;
  const all = cow.crashPoints().filter((t) => t >= written);
  for (let attempt = 0; attempt < 8 && all.length > 0; attempt++) {
    const t = all[rng.int(all.length)]!;
    const image = cow.crashImage(t, () => (rng.chance(0.5) ? "none" : "all"), rng);
    const act = activationOf(activate(image, chunkSize));
    if (act.status !== "valid") continue;
    const cow2 = new SimDevice(image, new AutoScheduler(rng), { flushAtSubmit: true });
    const t2 = tracer.reactivate(t, tracer.crashEvent(image, act), cow2);
    cow2.tracer = t2;
    const snap = await Snapshot.open(new MemoryDevice(rng.bytes(originChunks * cb)), cow2, { chunkSize, tracer: t2 });
    t2.reload(snap.store.currentArea, snap.store.currentIndex, snap.store.nextFree);
    const ops: Promise<unknown>[] = [];
    for (let i = 0, n = 5 + rng.int(20); i < n; i++) {
      const c = rng.int(originChunks);
      ops.push(snap.writeOrigin(c * cb + rng.int(cb), rng.bytes(1)));
      if (rng.chance(0.3)) await Promise.race([...ops, new Promise((r) => setImmediate(r))]);
    }
    await Promise.all(ops);
    await snap.idle();
    const end = cow2.crashImage(cow2.now, () => (rng.chance(0.5) ? "none" : "all"), rng);
    t2.crash(end, activationOf(activate(end, chunkSize)));
    const trace = t2.trace(`reload-${seed}-t${t}`);
    (trace.constants as unknown as Record<string, unknown>).MaxCrashes = 2;
    return { traces: [trace], stats: { invalidated: !snap.valid, overflowed: false, areasFilled: areasFilled(t2) } };
  }
  return null;
}
