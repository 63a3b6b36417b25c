/**
 * The abstraction from an engine run to a behaviour of spec/DmSnapStore.tla:
 * a tracer that turns the store's and the device's steps into the model's
 * actions, with the fields that pin each step. As in the model, exceptions
 * are numbered in allocation order, and a chunk is a tuple of E slots:
 *   0 zero bytes, e the entry (or copied data) of exception e,
 *   STALE anything else, HDR_VALID / HDR_INVALID a well-formed header.
 * Slots are written as integers (STALE = -1, HDR_INVALID = -2, HDR_VALID = -3).
 *
 * The run must start from the model's initial disk: a valid header, area 0
 * zeroed, everything else stale (staleCowImage).
 */
import { areaLocation, areaOffset, chunkAtByte, joinU64, chunkBytes, chunkOffset, chunksInDevice, entryOffset, exceptionsPerArea, FIRST_DATA_CHUNK, SNAP_MAGIC } from "@dmsnap/format";
import type { SimDevice } from "./crash.js";
import type { Rng } from "./rng.js";
import type { CommitNext, DeviceTracer, StoreTracer } from "./trace.js";

export const STALE = -1;
export const HDR_INVALID = -2;
export const HDR_VALID = -3;

export type TraceEvent =
  | { a: "Prepare"; e: number; chunk: number }
  | { a: "CopyDone"; e: number }
  | { a: "CommitStart"; e: number; idx: number; next: CommitNext }
  | { a: "IssueArea"; area: number; valid: 0 | 1; flush: boolean }
  | { a: "ZeroDone"; chunk: number }
  | { a: "AreaDone"; chunk: number; slots: number[] }
  | { a: "Finish"; full: boolean; ok: boolean }
  | { a: "Invalidate"; buffer: "header" | "area" }
  | { a: "HeaderDone"; slots: number[] }
  | { a: "FailHeaderWrite" }
  | { a: "RetryHeaderWrite" }
  | { a: "Crash"; hdr: number[]; areas: number[][]; data: number[]; status: ActStatus; loaded: number[] }
  | { a: "Reload"; area: number; idx: number; nextFree: number }
  | { a: "Unmapped"; what: string };

export type ActStatus = "blank" | "invalid" | "valid" | "corrupt";

/** An event and the device clock when it happened (for cutting a trace at a crash). */
export interface Stamped {
  t: number;
  ev: TraceEvent;
}

/** The constants of the model a trace is a behaviour of. */
export interface TraceConstants {
  E: number;
  NAreas: number;
  N: number;
  MaxInFlight: number;
  MaxCrashes: number;
  FirstActivation: boolean;
  CopyFailures: boolean;
  IOErrors: boolean;
  OriginWrites: boolean;
  Merge: boolean;
  HeaderInAreaBuffer: boolean;
  ZeroOrder: "before-area" | "after-area" | "after-callbacks" | "none";
  FlushBeforeArea: boolean;
  CallbackAfterWrite: boolean;
  InOrderCommit: boolean;
  CommitOnCopyFailure: boolean;
  SkipMetadataAfterReload: boolean;
  ReloadPartialArea: boolean;
  HeaderFUA: boolean;
  OriginWaitsHeader: boolean;
  MergeFlushOrigin: boolean;
  InitZeroFirst: boolean;
}

/** The model's fixed design (docs/model.md), one crash, no environment switches: what the engine is. */
export const ENGINE_DESIGN: Omit<TraceConstants, "E" | "NAreas" | "N" | "MaxInFlight"> = {
  MaxCrashes: 1,
  FirstActivation: false,
  CopyFailures: false,
  IOErrors: false,
  OriginWrites: false,
  Merge: false,
  HeaderInAreaBuffer: false,
  ZeroOrder: "before-area",
  FlushBeforeArea: true,
  CallbackAfterWrite: true,
  InOrderCommit: true,
  CommitOnCopyFailure: true,
  SkipMetadataAfterReload: true,
  ReloadPartialArea: true,
  HeaderFUA: true,
  OriginWaitsHeader: true,
  MergeFlushOrigin: true,
  InitZeroFirst: true,
};

export interface ModelTrace {
  name: string;
  constants: TraceConstants;
  events: TraceEvent[];
}

/**
 * The model's initial disk in bytes: random (stale) content, a valid header,
 * area 0 zeroed, every other area one stale entry and then zeros. Stale entries name origin chunks no run uses (>= 2^20) and
 * COW chunks inside the device, so activation reads them without complaint.
 */
export function staleCowImage(size: number, chunkSize: number, rng: Rng): Uint8Array {
  const img = rng.bytes(size);
  const cb = chunkBytes(chunkSize);
  const chunks = chunksInDevice(chunkSize, size);
  const view = new DataView(img.buffer, img.byteOffset, img.byteLength);
  for (let a = 0; areaLocation(chunkSize, a) < chunks; a++) {
    const base = areaOffset(chunkSize, a);
    // One stale entry, then zeros: an earlier snapshot's area (the model's StaleArea).
    img.fill(0, base + entryOffset(1), base + cb);
    for (let i = 0; i < entryOffset(1); i += entryOffset(1)) {
      view.setUint32(base + i, 1048576 + rng.int(1048576), true);
      view.setUint32(base + i + 4, 0, true);
      view.setUint32(base + i + 8, FIRST_DATA_CHUNK + rng.int(chunks - FIRST_DATA_CHUNK), true);
      view.setUint32(base + i + 12, 0, true);
    }
  }
  img.fill(0, 0, cb);
  img.fill(0, areaOffset(chunkSize, 0), areaOffset(chunkSize, 0) + cb);
  view.setUint32(0, SNAP_MAGIC, true);
  view.setUint32(4, 1, true);
  view.setUint32(8, 1, true);
  view.setUint32(12, chunkSize, true);
  return img;
}

export interface Activation {
  status: ActStatus;
  /** (old, new) pairs loaded when valid. */
  pairs: Array<[number, number]>;
}

/** Turns engine steps into model actions. Attach to the store (options.tracer) and the COW device (device.tracer). */
export class ModelTracer implements StoreTracer, DeviceTracer {
  readonly E: number;
  readonly events: Stamped[] = [];
  /** Exception e (1-based) -> its COW chunk and origin chunk (the origin chunk once committed). */
  private readonly chunkOf: number[] = [0];
  private readonly oldOf: number[] = [0];
  private readonly byChunk = new Map<number, number>();
  private readonly copied = new Set<number>();
  private pendingZero = -1;
  private pendingArea = -1;
  maxPending = 0;
  private readonly cb: number;
  /** The stale bytes data chunks held before the run (a reactivated device starts from a crash image). */
  private stale: Uint8Array | null = null;
  /** Exception e's chunk as e's own writes left it. */
  private readonly content = new Map<number, Uint8Array>();

  constructor(
    readonly chunkSize: number,
    private readonly cow: SimDevice,
    readonly design: Omit<TraceConstants, "E" | "NAreas" | "N" | "MaxInFlight"> = ENGINE_DESIGN,
  ) {
    this.E = exceptionsPerArea(chunkSize);
    this.cb = chunkBytes(chunkSize);
  }

  get exceptions(): number {
    return this.chunkOf.length - 1;
  }

  /** Store steps are stamped between device ticks: a crash at tick t sees the steps before the tick after it. */
  private log(ev: TraceEvent): void {
    this.events.push({ t: this.cow.now + 0.5, ev });
  }

  prepare(chunk: number, pending: number): void {
    const e = this.chunkOf.length;
    this.chunkOf.push(chunk);
    this.oldOf.push(-1);
    this.byChunk.set(chunk, e);
    if (pending > this.maxPending) this.maxPending = pending;
    this.log({ a: "Prepare", e, chunk });
  }

  commitStart(oldChunk: number, chunk: number, area: number, index: number, next: CommitNext): void {
    const e = this.byChunk.get(chunk);
    if (e === undefined) return this.log({ a: "Unmapped", what: `commit of unallocated chunk ${chunk}` });
    this.oldOf[e] = oldChunk;
    if (next === "zeroing") this.pendingZero = areaLocation(this.chunkSize, area + 1);
    this.log({ a: "CommitStart", e, idx: index + 1, next });
  }

  issueArea(area: number, valid: boolean, flush: boolean): void {
    if (valid) this.pendingArea = areaLocation(this.chunkSize, area);
    this.log({ a: "IssueArea", area, valid: valid ? 1 : 0, flush });
  }

  finish(full: boolean, ok: boolean): void {
    this.log({ a: "Finish", full, ok });
  }

  invalidate(buffer: "header" | "area"): void {
    this.log({ a: "Invalidate", buffer });
  }

  failHeaderWrite(): void {
    this.log({ a: "FailHeaderWrite" });
  }

  retryHeaderWrite(): void {
    this.log({ a: "RetryHeaderWrite" });
  }

  writeDone(offset: number, data: Uint8Array): void {
    const ev = this.deviceEvent(offset, data);
    if (ev) this.events.push({ t: this.cow.now, ev }); // stamped with the device tick that landed it
  }

  private deviceEvent(offset: number, data: Uint8Array): TraceEvent | null {
    const c = chunkAtByte(this.chunkSize, offset);
    if (c === 0) return { a: "HeaderDone", slots: this.block(data) };
    if (c === this.pendingZero) {
      this.pendingZero = -1;
      return { a: "ZeroDone", chunk: c };
    }
    if (c === this.pendingArea) {
      this.pendingArea = -1;
      return { a: "AreaDone", chunk: c, slots: this.block(data) };
    }
    const e = this.byChunk.get(c);
    if (e !== undefined) {
      // What e's chunk holds as written by e (a crash image holds e's data if it equals this).
      const had = this.content.get(e) ?? (this.stale ?? this.cow.initial).slice(c * this.cb, (c + 1) * this.cb);
      had.set(data, offset - c * this.cb);
      this.content.set(e, had);
      // The copy is the exception's first write; later ones are snapshot writes into
      // its chunk, which the model does not distinguish from the copy.
      if (this.copied.has(e)) return null;
      this.copied.add(e);
      return { a: "CopyDone", e };
    }
    return { a: "Unmapped", what: `write of ${data.length} bytes at chunk ${c}` };
  }

  /** The slot an entry (or the first 16 bytes of a chunk) stands for. */
  slot(oldChunk: number, newChunk: number): number {
    if (oldChunk === 0 && newChunk === 0) return 0;
    if (newChunk === joinU64(1, this.chunkSize) && (oldChunk === SNAP_MAGIC || oldChunk === joinU64(SNAP_MAGIC, 1))) {
      return oldChunk === SNAP_MAGIC ? HDR_INVALID : HDR_VALID;
    }
    const e = this.byChunk.get(newChunk);
    return e !== undefined && this.oldOf[e] === oldChunk ? e : STALE;
  }

  /** A metadata block (area or header chunk) as E slots. */
  block(bytes: Uint8Array): number[] {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const out: number[] = [];
    for (let i = 0; i < this.E; i++) {
      const o = entryOffset(i);
      const old = joinU64(view.getUint32(o, true), view.getUint32(o + 4, true));
      const nw = joinU64(view.getUint32(o + 8, true), view.getUint32(o + 12, true));
      out.push(this.slot(old, nw));
    }
    return out;
  }

  /** Areas whose metadata chunk lies on the device (the model's NAreas). */
  areasOnDevice(): number {
    const chunks = chunksInDevice(this.chunkSize, this.cow.size);
    let a = 0;
    while (areaLocation(this.chunkSize, a) < chunks) a++;
    return a;
  }

  /** The Crash event for a crash image and what activation made of it. */
  crashEvent(image: Uint8Array, act: Activation): TraceEvent {
    const cb = this.cb;
    const chunk = (c: number) => image.subarray(chunkOffset(this.chunkSize, c), chunkOffset(this.chunkSize, c + 1));
    const areas: number[][] = [];
    for (let a = 0; a < this.areasOnDevice(); a++) areas.push(this.block(chunk(areaLocation(this.chunkSize, a))));
    const data: number[] = [];
    for (let e = 1; e < this.chunkOf.length; e++) {
      const now = chunk(this.chunkOf[e]!);
      const mine = this.content.get(e);
      let same = mine !== undefined;
      for (let i = 0; i < cb && same; i++) same = now[i] === mine![i];
      data.push(same ? 1 : 0);
    }
    const loaded = [...new Set(act.pairs.map(([o, n]) => this.slot(o, n)))].sort((x, y) => x - y);
    return { a: "Crash", hdr: this.block(chunk(0)), areas, data, status: act.status, loaded };
  }

  /** Logs a crash (the image the device could leave at its clock `t`) and its activation. */
  crash(image: Uint8Array, act: Activation): void {
    this.log(this.crashEvent(image, act));
  }

  /** The trace: events up to device time `until` (inclusive), then `extra`. */
  trace(name: string, until = Infinity, extra: TraceEvent[] = []): ModelTrace {
    const events = this.events.filter((s) => s.t <= until).map((s) => s.ev);
    const N = events.filter((e) => e.a === "Prepare").length;
    for (const x of extra) events.push(x.a === "Crash" ? { ...x, data: x.data.slice(0, N) } : x);
    // A failed header write is the model's I/O-error environment.
    const failed = events.some((e) => e.a === "FailHeaderWrite");
    return {
      name,
      constants: { E: this.E, NAreas: this.areasOnDevice(), N, MaxInFlight: Math.max(1, this.maxPending), ...this.design, ...(failed ? { IOErrors: true } : {}) },
      events,
    };
  }

  /**
   * The tracer of a reactivation: the run as it stood at device time `until`
   * (its exceptions and events up to then) and `crash`, continuing on `cow`,
   * the device reopened over the crash image (then call `reload`).
   */
  reactivate(until: number, crash: TraceEvent, cow: SimDevice): ModelTracer {
    const t = new ModelTracer(this.chunkSize, cow, this.design);
    const prefix = this.events.filter((s) => s.t <= until);
    const n = prefix.filter((s) => s.ev.a === "Prepare").length;
    for (let e = 1; e <= n; e++) {
      t.chunkOf.push(this.chunkOf[e]!);
      t.oldOf.push(this.oldOf[e]!);
      t.byChunk.set(this.chunkOf[e]!, e);
    }
    for (const s of prefix) if (s.ev.a === "CopyDone") t.copied.add(s.ev.e);
    for (let e = 1; e <= n; e++) if (this.content.has(e)) t.content.set(e, this.content.get(e)!);
    t.maxPending = this.maxPending;
    t.stale = this.stale ?? this.cow.initial;
    for (const s of prefix) t.events.push({ t: -1, ev: s.ev });
    t.events.push({ t: -1, ev: crash.a === "Crash" ? { ...crash, data: crash.data.slice(0, n) } : crash });
    return t;
  }

  /** The store reopened after a crash: where it resumes (the model's Reload). */
  reload(area: number, idx: number, nextFree: number): void {
    this.log({ a: "Reload", area, idx, nextFree });
  }
}

/** Activation status and pairs of a decoded image (or the error that refused it). */
export function activationOf(image: { state: "new" | "invalid" | "valid"; exceptions: { toPairs(): Array<[number, number]> } } | Error): Activation {
  if (image instanceof Error) return { status: "corrupt", pairs: [] };
  if (image.state === "new") return { status: "blank", pairs: [] };
  if (image.state === "invalid") return { status: "invalid", pairs: [] };
  return { status: "valid", pairs: image.exceptions.toPairs() };
}

