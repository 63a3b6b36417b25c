/**
 * Crash consistency: random workloads run against a crash-simulating COW whose
 * I/O completes in a seeded random order; then crash states are enumerated
 * (every distinct moment, several random choices of which unflushed writes
 * landed, torn at sector granularity) and each is activated:
 *  - the header is readable (activation does not refuse it);
 *  - if valid, every exception whose commit had resolved successfully by the
 *    crash is present, with the same COW chunk;
 *  - every entry on disk was committed, and its COW chunk holds the data it
 *    must (the origin's old chunk, or the whole-chunk snapshot write);
 *  - reopening the store over the crash image works, and allocation resumes
 *    past every chunk on disk.
 */
import { describe, expect, it } from "vitest";
import { chunkOffset, type CowImage } from "@dmsnap/format";
import { AutoScheduler, SimDevice } from "./crash.js";
import { MemoryDevice } from "./device.js";
import { isStoreError } from "./errors.js";
import { Rng } from "./rng.js";
import { Snapshot } from "./snapshot.js";
import { activate, handReadAreas, seeds } from "./testkit.js";

const SEEDS = seeds(1000, 2);

interface Outcome {
  states: number;
  valid: number;
  /** valid crash states whose metadata reached area 1 or beyond */
  multiArea: number;
}

async function crashRun(seed: number): Promise<Outcome> {
  const rng = new Rng(seed);
  // One seed in ten runs a workload big enough to fill area 0 (over 32 exceptions
  // of 1-sector chunks), so crashes around the next area's zeroing are covered.
  const big = new Rng(seed ^ 0x5ca1e).chance(0.1);
  const chunkSize = big ? 1 : rng.chance(0.6) ? 1 : 2;
  const cb = chunkSize * 512;
  const originChunks = big ? 60 + rng.int(30) : 8 + rng.int(40);
  const originSize = originChunks * cb - (rng.chance(0.3) ? 1 + rng.int(cb - 1) : 0);
  const cowChunks = big ? originChunks + 8 : rng.chance(0.7) ? 6 + rng.int(originChunks + 10) : 4 + rng.int(8);
  const originInit = rng.bytes(originSize);
  const origin = new MemoryDevice(originInit.slice());
  const cow = new SimDevice(new Uint8Array(cowChunks * cb), new AutoScheduler(rng));
  const fail = (msg: string): never => {
    throw new Error(`crash seed ${seed} (chunk size ${chunkSize}, origin ${originChunks}, COW ${cowChunks} chunks): ${msg}\n  replay: DMSNAP_SIM_SEED=${seed} pnpm vitest run packages/store/src/crash.test.ts`);
  };
  const snap = await Snapshot.open(origin, cow, { chunkSize });

  const called = new Map<string, Uint8Array>(); // "old,new" -> expected COW chunk bytes
  const ackT = new Map<string, number>();
  const store = snap.store;
  const realCommit = store.commit.bind(store);
  const expectedFor = new Map<number, Uint8Array>(); // origin chunk -> data its exception must hold
  store.commit = (o: number, n: number, ok?: boolean) => {
    const key = `${o},${n}`;
    called.set(key, expectedFor.get(o) ?? originInit.slice(o * cb, Math.min(originSize, (o + 1) * cb)));
    const r = realCommit(o, n, ok);
    r.then((good) => {
      if (good) ackT.set(key, cow.now);
    });
    return r;
  };

  const snapshotChunks = new Set<number>();
  const ops: Promise<unknown>[] = [];
  const n = big ? 100 + rng.int(60) : 10 + rng.int(40);
  for (let i = 0; i < n; i++) {
    const c = rng.int(originChunks);
    const len = Math.min(cb, originSize - c * cb);
    if (c % 3 === 0 && !snapshotChunks.has(c) && rng.chance(0.3)) {
      // a whole-chunk snapshot write, once per chunk: its COW chunk must hold these bytes
      snapshotChunks.add(c);
      const data = rng.bytes(len);
      expectedFor.set(c, data);
      ops.push(snap.writeSnapshot(c * cb, data).catch((e) => (isStoreError(e) ? null : Promise.reject(e))));
    } else if (c % 3 !== 0) {
      const off = c * cb + rng.int(len);
      ops.push(snap.writeOrigin(off, rng.bytes(1 + rng.int(c * cb + len - off)))); // stays inside chunk c
    }
    if (rng.chance(0.3)) await Promise.race([...ops, new Promise((r) => setImmediate(r))]);
    if (rng.chance(0.01)) void snap.invalidate();
  }
  await Promise.all(ops);
  await snap.idle();

  const points = cow.crashPoints();
  const chosen = points.length <= 48 ? points : Array.from({ length: 48 }, () => points[rng.int(points.length)]!);
  let states = 0;
  let valid = 0;
  let multiArea = 0;
  for (const t of chosen) {
    const images = [cow.crashImage(t, () => "none", rng), cow.crashImage(t, () => "all", rng)];
    for (let k = 0; k < 3; k++) images.push(cow.randomCrashImage(t, rng));
    for (const bytes of images) {
      states++;
      const img = activate(bytes, chunkSize);
      if (img instanceof Error) fail(`crash at t=${t}: activation refused the COW: ${img.message}`);
      const image = img as CowImage;
      if (image.state === "new") {
        for (const [key, at] of ackT) if (at <= t) fail(`crash at t=${t}: blank header but ${key} was acknowledged`);
        continue;
      }
      if (image.state !== "valid") continue;
      valid++;
      if (image.currentArea >= 1) multiArea++;
      // What activation loaded is what sits where the layout rules put the areas (read by hand).
      const pairs = image.exceptions.toPairs();
      const byHand = handReadAreas(bytes, chunkSize);
      if (JSON.stringify(byHand) !== JSON.stringify(pairs)) fail(`crash at t=${t}: activation loaded ${pairs.length} entries, the areas read by hand hold ${byHand.length}`);
      const onDisk = new Map<number, number>();
      for (const [o, nw] of image.exceptions.toPairs()) {
        const want = called.get(`${o},${nw}`);
        if (!want) fail(`crash at t=${t}: entry ${o}->${nw} on disk was never committed`);
        const got = bytes.subarray(chunkOffset(chunkSize, nw), chunkOffset(chunkSize, nw) + want!.length);
        for (let i = 0; i < want!.length; i++) if (got[i] !== want![i]) fail(`crash at t=${t}: COW chunk ${nw} (origin chunk ${o}) does not hold the old data (byte ${i})`);
        onDisk.set(o, nw);
      }
      for (const [key, at] of ackT) {
        if (at > t) continue;
        const [o, nw] = key.split(",").map(Number) as [number, number];
        if (onDisk.get(o) !== nw) fail(`crash at t=${t}: acknowledged exception ${key} is missing`);
      }
      let maxNew = -1;
      for (const v of onDisk.values()) maxNew = Math.max(maxNew, v);
      if (image.nextFree <= maxNew) fail(`crash at t=${t}: next_free ${image.nextFree} not past ${maxNew}`);
    }
  }
  return { states, valid, multiArea };
}

describe("crash consistency", () => {
  it(`every crash state of ${SEEDS.length} random workloads activates consistently`, async () => {
    let states = 0;
    let valid = 0;
    let multiArea = 0;
    for (const seed of SEEDS) {
      const r = await crashRun(seed);
      states += r.states;
      valid += r.valid;
      multiArea += r.multiArea;
    }
    console.log(`crash: ${SEEDS.length} seeds, ${states} crash states activated, ${valid} of them valid snapshots, ${multiArea} past area 0`);
    expect(valid).toBeGreaterThan(0);
    if (SEEDS.length >= 100) expect(multiArea).toBeGreaterThan(0);
  }, 600_000);
});
