/**
 * The crash-simulating device. Every operation is handed to a scheduler that
 * decides when it completes: `AutoScheduler` completes them on later ticks
 * (optionally in a seeded random order), `ManualScheduler` holds them until a
 * test or the deterministic simulation completes one. A write takes its bytes
 * from the caller's buffer at completion, as DMA would.
 *
 * The device logs every write and flush against a logical clock, and can
 * materialise the image a crash at any moment could leave: writes that were
 * durable by then are applied; of the rest (completed but not covered by a
 * flush, or still in flight) any subset is applied, each possibly torn at
 * sector granularity.
 */
import { SECTOR_SIZE, sectorBytes, sectorsCovering } from "@dmsnap/format";
import { checkRange, type BlockDevice, type WriteFlags } from "./device.js";
import type { Rng } from "./rng.js";
import type { DeviceTracer } from "./trace.js";

export interface PendingOp {
  readonly device: SimDevice;
  readonly kind: "read" | "write" | "flush";
  readonly offset: number;
  readonly length: number;
  /** Applies the operation and settles its promise. */
  complete(): void;
  /** Settles its promise with an error instead, without applying it. */
  fail(error: Error): void;
  /**
   * Writes only, for schedules driven step by step (the model's replay): `take`
   * copies the buffer's bytes now (DMA happening early); `apply` lands the
   * write without settling its promise; `settle` then resolves it.
   * `complete` is `apply` + `settle`.
   */
  take?(): void;
  apply?(): void;
  settle?(): void;
}

export interface Scheduler {
  submit(op: PendingOp): void;
}

/** Holds every operation until `complete` is called on it (through this scheduler). */
export class ManualScheduler implements Scheduler {
  pending: PendingOp[] = [];
  submit(op: PendingOp): void {
    this.pending.push(op);
  }
  /** Completes (or fails) the pending operation at `index`. */
  completeAt(index: number, error?: Error): PendingOp {
    const op = this.pending[index]!;
    this.pending.splice(index, 1);
    if (error) op.fail(error);
    else op.complete();
    return op;
  }
  completeRandom(rng: Rng): PendingOp {
    return this.completeAt(rng.int(this.pending.length));
  }
  find(pred: (op: PendingOp) => boolean): number {
    return this.pending.findIndex(pred);
  }
}

/** Completes operations by itself on later macrotasks; with an Rng, in a random order among those queued. */
export class AutoScheduler implements Scheduler {
  private queue: PendingOp[] = [];
  private scheduled = false;
  constructor(private readonly rng?: Rng) {}
  submit(op: PendingOp): void {
    this.queue.push(op);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }
  private run(): void {
    this.scheduled = false;
    // Complete one (random) op per tick so continuations interleave with completions.
    const q = this.queue;
    if (q.length === 0) return;
    const i = this.rng ? this.rng.int(q.length) : 0;
    const op = q[i]!;
    q.splice(i, 1);
    op.complete();
    if (q.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.run());
    }
  }
}

export interface WriteRecord {
  offset: number;
  /** The bytes as taken at completion. */
  data: Uint8Array;
  flags: WriteFlags;
  submitT: number;
  /** Infinity while in flight. */
  completeT: number;
}

export interface FlushRecord {
  issueT: number;
  completeT: number;
}

/** A device over an in-memory image whose operations complete when its scheduler says so. */
export class SimDevice implements BlockDevice {
  /** The image with every completed write applied (what a read sees). */
  readonly current: Uint8Array;
  readonly initial: Uint8Array;
  readonly logicalBlockSize: number;
  /** Logical clock: advances on every submission and completion. */
  now = 0;
  writes: WriteRecord[] = [];
  flushes: FlushRecord[] = [];
  /** Records writes and flushes for crash states (off for the origin in big runs). */
  record: boolean;
  /**
   * The flush before a write completes when the write is submitted (a legal,
   * eager device), instead of at the write's completion (the conservative
   * default). Trace validation uses it: the model's IssueArea flushes at issue.
   */
  readonly flushAtSubmit: boolean;
  /** Told of every write as it lands (trace validation); off when absent. */
  tracer: DeviceTracer | undefined;

  constructor(
    image: Uint8Array,
    public scheduler: Scheduler,
    options: { logicalBlockSize?: number; record?: boolean; flushAtSubmit?: boolean; tracer?: DeviceTracer } = {},
  ) {
    this.initial = image.slice();
    this.current = image.slice();
    this.logicalBlockSize = options.logicalBlockSize ?? SECTOR_SIZE;
    this.record = options.record ?? true;
    this.flushAtSubmit = options.flushAtSubmit ?? false;
    this.tracer = options.tracer;
  }

  get size(): number {
    return this.current.length;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length, "read");
    return new Promise((resolve, reject) => {
      this.now++;
      this.scheduler.submit({
        device: this,
        kind: "read",
        offset,
        length,
        complete: () => {
          this.now++;
          resolve(this.current.slice(offset, offset + length));
        },
        fail: reject,
      });
    });
  }

  write(offset: number, data: Uint8Array, flags: WriteFlags = {}): Promise<void> {
    checkRange(this, offset, data.length, "write");
    return new Promise((resolve, reject) => {
      const rec: WriteRecord = { offset, data, flags, submitT: ++this.now, completeT: Infinity };
      if (this.record) this.writes.push(rec);
      const eagerFlush = flags.flushBefore === true && this.flushAtSubmit;
      if (eagerFlush && this.record) this.flushes.push({ issueT: rec.submitT, completeT: rec.submitT });
      let taken: Uint8Array | null = null;
      const apply = () => {
        // The flush-before takes effect at completion too (unless flushAtSubmit): conservative,
        // it covers only writes completed before submission, and nothing is durable early.
        rec.data = taken ?? data.slice();
        rec.completeT = ++this.now;
        if (flags.flushBefore && !eagerFlush && this.record) this.flushes.push({ issueT: rec.submitT, completeT: rec.completeT });
        this.current.set(rec.data, offset);
        if (this.tracer) this.tracer.writeDone(offset, rec.data, flags);
      };
      this.scheduler.submit({
        device: this,
        kind: "write",
        offset,
        length: data.length,
        complete: () => {
          apply();
          resolve();
        },
        fail: (e) => {
          rec.data = new Uint8Array(0);
          this.now++;
          reject(e);
        },
        take: () => {
          taken = data.slice();
        },
        apply,
        settle: () => resolve(),
      });
    });
  }

  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      const issueT = ++this.now;
      this.scheduler.submit({
        device: this,
        kind: "flush",
        offset: 0,
        length: 0,
        complete: () => {
          const completeT = ++this.now;
          if (this.record) this.flushes.push({ issueT, completeT });
          resolve();
        },
        fail: reject,
      });
    });
  }

  async close(): Promise<void> {}

  /** Time by which `w` is durable (Infinity if never). */
  private durableCache = new Map<WriteRecord, number>();
  private durableCacheFlushes = -1;
  private durableAt(w: WriteRecord): number {
    if (this.durableCacheFlushes !== this.flushes.length) {
      this.durableCache.clear();
      this.durableCacheFlushes = this.flushes.length;
    }
    const hit = this.durableCache.get(w);
    if (hit !== undefined) return hit;
    const v = this.computeDurableAt(w);
    if (w.completeT !== Infinity) this.durableCache.set(w, v);
    return v;
  }

  private computeDurableAt(w: WriteRecord): number {
    if (w.completeT === Infinity) return Infinity;
    if (w.flags.fua) return w.completeT;
    let best = Infinity;
    for (const f of this.flushes) if (f.issueT >= w.completeT && f.completeT < best) best = f.completeT;
    return best;
  }

  /**
   * The image a crash at time `t` may leave. `choose` decides, for each write
   * that is not durable by `t` (completed or in flight), which of its sectors
   * reached the disk: "none", "all", or a torn subset. An in-flight write
   * with flush-before that is applied at all implies its flush completed.
   */
  crashImage(t: number, choose: (w: WriteRecord, inFlight: boolean) => "none" | "all" | "torn", rng: Rng): Uint8Array {
    const img = this.initial.slice();
    type Applied = { w: WriteRecord; mode: "all" | "torn" };
    const extra: Applied[] = [];
    let forcedFlush = -1;
    const durable = new Set<WriteRecord>();
    for (const w of this.writes) {
      if (w.submitT > t) continue;
      if (w.completeT <= t && this.durableAt(w) <= t) {
        durable.add(w);
        continue;
      }
      const inFlight = w.completeT > t;
      if (inFlight && w.completeT === Infinity) continue; // never completed: its bytes are unknown
      const mode = choose(w, inFlight);
      if (mode === "none") continue;
      extra.push({ w, mode });
      if (inFlight && w.flags.flushBefore) forcedFlush = Math.max(forcedFlush, w.submitT);
    }
    // An applied flush-before write means every write completed before its submission is durable.
    const order = this.writes.filter((w) => w.submitT <= t && w.completeT !== Infinity);
    order.sort((a, b) => a.completeT - b.completeT);
    const extraMode = new Map(extra.map((a) => [a.w, a.mode] as const));
    for (const w of order) {
      let mode: "all" | "torn" | undefined;
      if (durable.has(w) || (w.completeT <= forcedFlush)) mode = "all";
      else mode = extraMode.get(w);
      if (mode === undefined) continue;
      if (mode === "all") img.set(w.data, w.offset);
      else {
        const sectors = sectorsCovering(w.data.length);
        for (let s = 0; s < sectors; s++) {
          if (rng.chance(0.5)) img.set(w.data.subarray(sectorBytes(s), Math.min(w.data.length, sectorBytes(s + 1))), w.offset + sectorBytes(s));
        }
      }
    }
    return img;
  }

  /** Times worth crashing at: 0 and every submission and completion. */
  crashPoints(): number[] {
    const set = new Set<number>([0, this.now]);
    for (const w of this.writes) {
      set.add(w.submitT);
      if (w.completeT !== Infinity) set.add(w.completeT);
    }
    for (const f of this.flushes) set.add(f.completeT);
    return [...set].sort((a, b) => a - b);
  }

  /** A random crash image at time t. */
  randomCrashImage(t: number, rng: Rng): Uint8Array {
    return this.crashImage(t, () => {
      const r = rng.next();
      return r < 0.4 ? "none" : r < 0.75 ? "all" : "torn";
    }, rng);
  }
}
