/**
 * The persistent exception store, in the kernel's order of I/O for prepare,
 * commit and merge, and deliberately not in three places (the model's fixed
 * design, docs/model.md): first activation zeroes area 0 before writing the
 * header (flush-before + FUA; the kernel writes the header first, both plain);
 * `drop` writes the header with FUA (the kernel: plain); the snapshot's
 * write that invalidates, and every origin write issued while that header
 * write is in flight, waits for `drop` to settle before it goes on to the
 * origin (the kernel: at once).
 *
 *   open       activation: blank -> zeroed area 0, then header; refused, invalid or valid
 *   prepare    hand out next_free, skip metadata chunks, one more in flight
 *   commit     entry into the in-memory area; batch until nothing is in flight
 *              or the area is full; full -> zero the next area first; write the
 *              area with flush-before + FUA; any error invalidates; callbacks
 *   drop       valid = 0, header written from its own buffer; a failed header
 *              write is retried by retryHeaderWrite (the snapshot's origin
 *              writes need a durable valid = 0 first: docs/store.md)
 *   merge      prepareMerge / commitMerge
 *
 * The model's actions are finer than these methods (commit is CommitStart,
 * IssueArea, the write's completion and Finish); docs/model.md lists them.
 * Commit steps (and merge commits) run one at a time, like the kernel's single
 * callback thread; `drop` does not wait for them, as in the kernel. That is the
 * race of 2009, harmless here because the header has its own buffer.
 */
import {
  advanceNextFree,
  areaOffset,
  canAllocate,
  chunkBytes,
  clearEntry,
  dataChunk,
  decodeCowAsync,
  deviceSectors,
  encodeHeaderInto,
  entryOffset,
  entryWords,
  ExceptionTable,
  FIRST_DATA_CHUNK,
  makeHeader,
  joinU64,
  readEntry,
  sectorBytes,
  sectorsCovering,
  usage as layoutUsage,
  usageStatus,
  writeEntry,
  writeEntryWords,
  type CowImage,
  type Usage,
} from "@dmsnap/format";
import type { BlockDevice } from "./device.js";
import { deviceReader } from "./device.js";
import { ioError, StoreError, StoreErrorCode } from "./errors.js";
import type { CommitNext, StoreTracer } from "./trace.js";


export interface StoreOptions {
  /** Chunk size from the table, in sectors (for a blank COW; an existing header overrides it). */
  chunkSize?: number;
  /** The `PO` table option: user space understands the Overflow state. */
  overflow?: boolean;
  /**
   * TEST ONLY. Builds the header in the metadata area's buffer, as kernels
   * before the 2009 fix did, so the race test can show it has teeth. Also
   * switched on for a whole run by DMSNAP_UNSAFE_SHARED_HEADER=1 (mutation run).
   */
  unsafeSharedHeaderBuffer?: boolean;
  /** TEST ONLY (the model's ZeroOrder = "none"): a full area is written without zeroing the next one. */
  unsafeNoZeroing?: boolean;
  /** TEST ONLY (the model's FlushBeforeArea = FALSE): the area write has no flush before it (still FUA). */
  unsafeNoFlush?: boolean;
  /** TEST ONLY (the model's CallbackAfterWrite = FALSE): callbacks run when the area write is issued. */
  unsafeEarlyCallbacks?: boolean;
  /**
   * TEST ONLY (the model's ZeroOrder): when the next area is zeroed: after the
   * full area's write completes, or after its callbacks (2006), instead of before it.
   */
  unsafeZeroOrder?: "after-area" | "after-callbacks";
  /** TEST ONLY (the model's HeaderFUA = FALSE): the invalidated header is a plain write, as the kernel's. */
  unsafePlainHeader?: boolean;
  /** TEST ONLY (the model's InitZeroFirst = FALSE): first activation writes the header and zeroes area 0 at once, both plain, as the kernel. */
  unsafeInitHeaderFirst?: boolean;
  /** TEST ONLY (the model's SkipMetadataAfterReload = FALSE, CVE-2013-4299): next_free after a reload may be a metadata chunk. */
  unsafeNoSkipAfterReload?: boolean;
  /** TEST ONLY (the model's OriginWaitsHeader = FALSE, as Linux 6.1): the snapshot's origin writes do not wait for the invalidating header write. */
  unsafeOriginSkipsHeaderWait?: boolean;
  /** TEST ONLY (the model's ReloadPartialArea = FALSE, 2014): a reload keeps current_committed but not the area's entries. */
  unsafeZeroAreaOnReload?: boolean;
  /** Reports every step under the model's action names (trace validation); off when absent. */
  tracer?: StoreTracer;
}

export type StoreState = "valid" | "invalid";

/**
 * The invalidating header write (the model's `hpc`): not issued, in flight,
 * completed (durable: FUA), or failed (the COW still says valid).
 */
export type HeaderWriteState = "none" | "writing" | "done" | "failed";

export class PersistentStore {
  readonly chunkSize: number;
  readonly exceptionsPerArea: number;
  readonly overflowMode: boolean;
  /** Exceptions loaded at activation, in on-disk order (empty unless valid). */
  readonly loaded: ExceptionTable;
  /** What activation found: a blank COW that was initialised, or an existing one. */
  readonly activatedFrom: CowImage["state"];

  valid: boolean;
  /** Set by the snapshot when a write to it failed for lack of space in overflow mode. */
  overflowed = false;
  nextFree: number;
  currentArea: number;
  /** Entries in the in-memory area (the kernel's current_committed). */
  currentIndex: number;
  /** Prepared exceptions not yet committed. */
  pendingCount = 0;
  /** Errors met (a failed header write leaves no other trace). */
  readonly errors: StoreError[] = [];
  /** The invalidating header write of this run (drop, retryHeaderWrite). */
  headerWrite: HeaderWriteState = "none";
  /** Header writes of this run that have settled (completed or failed). */
  headerAttempts = 0;
  /** The last failed header write's error (cleared when one completes). */
  headerError: StoreError | null = null;
  private headerSettled: Promise<void> | null = null;

  private readonly area: Uint8Array;
  private readonly areaWords: Uint32Array | null;
  private readonly headerBuffer: Uint8Array;
  private readonly zeroChunk: Uint8Array;
  private callbacks: Array<(ok: boolean) => void> = [];
  /** A store step (area write, merge) is in progress; commits and merges queue behind it. */
  private busy = false;
  private queue: Array<(() => void) | null | undefined> = [];
  private commitOld: number[] = [];
  private commitNew: number[] = [];
  private commitOk: boolean[] = [];
  private commitCallbacks: Array<(ok: boolean) => void> = [];
  private commitHead = 0;
  private queueHead = 0;
  private queuedCommits = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly sharedHeader: boolean;
  private readonly zeroNextArea: boolean;
  private readonly zeroOrder: "before-area" | "after-area" | "after-callbacks";
  private readonly plainHeader: boolean;
  private readonly initHeaderFirst: boolean;
  private readonly flushBeforeArea: boolean;
  private readonly callbackAfterWrite: boolean;
  private readonly tracer: StoreTracer | undefined;
  private readonly totalSectors: number;

  private constructor(
    readonly device: BlockDevice,
    image: CowImage,
    areaBytes: Uint8Array,
    options: StoreOptions,
  ) {
    this.chunkSize = image.chunkSize;
    this.exceptionsPerArea = image.exceptionsPerArea;
    this.overflowMode = options.overflow ?? false;
    this.loaded = image.exceptions;
    this.activatedFrom = image.state;
    this.valid = image.state !== "invalid";
    this.nextFree = image.state === "new" ? FIRST_DATA_CHUNK : options.unsafeNoSkipAfterReload ? unskippedNextFree(image) : image.nextFree;
    this.currentArea = image.state === "new" ? 0 : image.currentArea;
    this.currentIndex = image.state === "new" ? 0 : image.currentIndex;
    this.area = areaBytes;
    this.areaWords = entryWords(areaBytes);
    this.headerBuffer = new Uint8Array(chunkBytes(this.chunkSize));
    this.zeroChunk = new Uint8Array(chunkBytes(this.chunkSize));
    this.sharedHeader = options.unsafeSharedHeaderBuffer ?? (typeof process !== "undefined" && process.env?.DMSNAP_UNSAFE_SHARED_HEADER === "1");
    this.zeroNextArea = options.unsafeNoZeroing !== true;
    this.zeroOrder = options.unsafeZeroOrder ?? "before-area";
    this.plainHeader = options.unsafePlainHeader === true;
    this.initHeaderFirst = options.unsafeInitHeaderFirst === true;
    this.flushBeforeArea = options.unsafeNoFlush !== true;
    this.callbackAfterWrite = options.unsafeEarlyCallbacks !== true;
    this.tracer = options.tracer;
    this.totalSectors = deviceSectors(device.size);
  }

  /**
   * Activation. Throws FormatError (BAD_MAGIC, UNSUPPORTED_VERSION,
   * INVALID_CHUNK_SIZE, TRUNCATED, ...) when the kernel would refuse the COW.
   * A blank COW is initialised: area 0 zeroed, then the header written
   * (flush-before + FUA), so a crash never leaves a valid header over a stale area 0.
   */
  static async open(device: BlockDevice, options: StoreOptions = {}): Promise<PersistentStore> {
    const activationOptions: { tableChunkSize?: number; logicalBlockSize: number } = { logicalBlockSize: device.logicalBlockSize };
    if (options.chunkSize !== undefined) activationOptions.tableChunkSize = options.chunkSize;
    let image: CowImage;
    try {
      image = await decodeCowAsync(deviceReader(device), activationOptions);
    } catch (e) {
      if (e instanceof StoreError || (e as { name?: string }).name === "FormatError") throw e;
      throw ioError(e, "reading the COW metadata");
    }
    const cb = chunkBytes(image.chunkSize);
    let areaBytes: Uint8Array = new Uint8Array(cb);
    if (image.state === "valid" && !options.unsafeZeroAreaOnReload) {
      // The kernel keeps the last area it read in memory; commits append to it.
      // Only the live entries are read (whole sectors): a 1 GiB area with a
      // few entries costs a sector, and the rest of the buffer is never touched.
      const live = Math.min(cb, sectorBytes(sectorsCovering(entryOffset(image.currentIndex))));
      try {
        if (live > 0) areaBytes.set(await device.read(areaOffset(image.chunkSize, image.currentArea), live));
      } catch (e) {
        throw ioError(e, "reading the current metadata area");
      }
      // Bytes after the terminator are stale (a torn or merged-away entry). The
      // kernel keeps them in its buffer, so its next commit, which moves the
      // terminator one slot on, makes them live again. We clear them: the next
      // area write leaves only the entries activation loaded plus the new ones.
      areaBytes.fill(0, entryOffset(image.currentIndex), live);
    }
    const store = new PersistentStore(device, image, areaBytes, options);
    if (image.state === "new") await store.initialise();
    return store;
  }

  private async initialise(): Promise<void> {
    if (this.initHeaderFirst) {
      // The kernel's order: the header and the zeroing of area 0 issued together, both plain.
      const header = this.headerBuffer;
      encodeHeaderInto(makeHeader(this.chunkSize, true), header);
      await Promise.all([this.device.write(0, header), this.device.write(areaOffset(this.chunkSize, 0), this.zeroChunk)]);
      return;
    }
    try {
      await this.device.write(areaOffset(this.chunkSize, 0), this.zeroChunk);
      // The header buffer past its 16 bytes is never written: it stays zero (and, for a huge chunk, untouched).
      const header = this.headerBuffer;
      encodeHeaderInto(makeHeader(this.chunkSize, true), header);
      await this.device.write(0, header, { flushBefore: true, fua: true });
    } catch (e) {
      throw ioError(e, "initialising the blank COW (zeroing area 0 and writing the header)");
    }
  }

  get state(): StoreState {
    return this.valid ? "valid" : "invalid";
  }

  /** Bytes in a chunk. */
  get chunkBytes(): number {
    return chunkBytes(this.chunkSize);
  }

  /**
   * Allocates the next free COW chunk for a new exception. Throws NO_SPACE when
   * (next_free + 1) chunks would not fit in the device.
   */
  prepare(): number {
    if (!canAllocate(this.chunkSize, this.nextFree, this.totalSectors)) {
      throw new StoreError(
        StoreErrorCode.NoSpace,
        `the COW device is full: chunk ${this.nextFree} would end past its ${this.totalSectors} sectors; use a larger COW device for this snapshot`,
      );
    }
    const chunk = this.nextFree;
    this.nextFree = advanceNextFree(this.chunkSize, this.nextFree);
    this.pendingCount++;
    if (this.tracer) this.tracer.prepare(chunk, this.pendingCount);
    return chunk;
  }

  /**
   * Records that origin chunk `oldChunk` now lives in COW chunk `newChunk`
   * (allocated by prepare). Resolves with the store's validity once the entry
   * is durable or the store has become invalid: true means durable.
   */
  commit(oldChunk: number, newChunk: number, copyOk = true): Promise<boolean> {
    if (this.pendingCount - this.queuedCommits <= 0) {
      return Promise.reject(new StoreError(StoreErrorCode.InvalidArgument, "commit without a prepared exception: every commit must follow a prepare"));
    }
    return new Promise<boolean>((resolve) => {
      if (this.busy) {
        // An area write is in flight: like the kernel's single callback thread, wait for it.
        // Queued commits live in plain columns (no closure per commit); a null in
        // the step queue means "the next queued commit".
        this.queuedCommits++;
        this.commitOld.push(oldChunk);
        this.commitNew.push(newChunk);
        this.commitOk.push(copyOk);
        this.commitCallbacks.push(resolve);
        this.queue.push(null);
      } else this.commitStep(oldChunk, newChunk, copyOk, resolve);
    });
  }

  /** One commit, run when no other store step is in progress (synchronous up to the area write). */
  private commitStep(oldChunk: number, newChunk: number, copyOk: boolean, callback: (ok: boolean) => void): void {
    if (!copyOk) this.valid = false;
    const index = this.currentIndex++;
    this.putEntry(index, oldChunk, newChunk);
    this.callbacks.push(callback);
    this.pendingCount--;
    const full = this.currentIndex === this.exceptionsPerArea;
    // Batching: others are still in flight and there is room, so their commit will write the area.
    const batched = this.pendingCount > 0 && !full;
    if (this.tracer) this.tracer.commitStart(oldChunk, newChunk, this.currentArea, index, commitNext(batched, full && this.zeroNextArea && this.zeroOrder === "before-area"));
    if (batched) return;
    this.busy = true;
    void this.writeArea(full);
  }

  private async writeArea(full: boolean): Promise<void> {
    const zero = full && this.zeroNextArea;
    if (zero && this.zeroOrder === "before-area") await this.zeroArea(this.currentArea + 1);
    if (this.tracer) this.tracer.issueArea(this.currentArea, this.valid, this.flushBeforeArea);
    if (this.valid) {
      let writing: Promise<void>;
      try {
        writing = this.device.write(areaOffset(this.chunkSize, this.currentArea), this.area, { flushBefore: this.flushBeforeArea, fua: true });
      } catch (e) {
        writing = Promise.reject(e);
      }
      if (!this.callbackAfterWrite) this.runCallbacks(); // the unsafe variant: acknowledged before it is durable
      try {
        await writing;
      } catch (e) {
        this.fail(e, `writing metadata area ${this.currentArea}`);
      }
    }
    if (zero && this.zeroOrder === "after-area") await this.zeroArea(this.currentArea + 1);
    if (full) {
      this.currentIndex = 0;
      this.currentArea++;
      this.area.fill(0);
    }
    if (this.tracer) this.tracer.finish(full, this.valid);
    this.runCallbacks();
    if (zero && this.zeroOrder === "after-callbacks" && this.valid) await this.zeroArea(this.currentArea);
    this.release();
  }

  private async zeroArea(area: number): Promise<void> {
    try {
      await this.device.write(areaOffset(this.chunkSize, area), this.zeroChunk);
    } catch (e) {
      this.fail(e, `zeroing metadata area ${area}`);
    }
  }

  /** Runs the queued callbacks with the store's validity. */
  private runCallbacks(): void {
    const callbacks = this.callbacks;
    this.callbacks = [];
    const ok = this.valid;
    for (const cb of callbacks) cb(ok);
  }

  /** Ends a store step and runs the steps that queued behind it, in order. */
  private release(): void {
    this.busy = false;
    while (!this.busy && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead];
      this.queue[this.queueHead++] = undefined;
      if (next === null) {
        const i = this.commitHead++;
        const cb = this.commitCallbacks[i]!;
        this.commitCallbacks[i] = undefined as never;
        this.queuedCommits--;
        this.commitStep(this.commitOld[i]!, this.commitNew[i]!, this.commitOk[i]!, cb);
      } else next!();
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
      this.commitOld.length = 0;
      this.commitNew.length = 0;
      this.commitOk.length = 0;
      this.commitCallbacks.length = 0;
      this.commitHead = 0;
    }
    if (!this.busy && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * writeEntry without a DataView per call: the hot path of every commit. Same
   * bytes as the format's writeEntry (store.test.ts checks), which it falls back
   * to on a big-endian host or for chunk numbers it must refuse.
   */
  private putEntry(index: number, oldChunk: number, newChunk: number): void {
    const w = this.areaWords;
    if (w === null || !(oldChunk >= 0 && oldChunk <= Number.MAX_SAFE_INTEGER && newChunk >= 0 && newChunk <= Number.MAX_SAFE_INTEGER)) {
      writeEntry(this.area, index, oldChunk, newChunk);
      return;
    }
    writeEntryWords(w, index, oldChunk, newChunk);
  }

  private fail(e: unknown, doing: string): void {
    this.valid = false;
    this.errors.push(ioError(e, doing));
  }

  /**
   * Invalidates the snapshot: valid = 0 in memory and in the header. Does not
   * wait for commits in progress (neither does the kernel). Resolves when the
   * header write settles; a failed header write is recorded in `errors` and
   * `headerWrite` says "failed" (retryHeaderWrite issues it again).
   */
  async drop(): Promise<void> {
    this.valid = false;
    const buffer = this.sharedHeader ? this.area : this.headerBuffer;
    if (this.tracer) this.tracer.invalidate(this.sharedHeader ? "area" : "header");
    // The header buffer past its 16 bytes is never written, so only the shared (unsafe) buffer needs clearing.
    if (buffer !== this.headerBuffer) buffer.fill(0);
    encodeHeaderInto(makeHeader(this.chunkSize, false), buffer);
    await this.issueHeaderWrite(buffer);
  }

  /**
   * The model's RetryHeaderWrite: the invalidating header write failed, so it
   * is issued again (same buffer, same flags). Waits for one in flight; does
   * nothing once one has completed or if none was ever issued. Resolves when
   * it settles; `headerWrite` says how.
   */
  async retryHeaderWrite(): Promise<void> {
    if (this.headerWrite === "writing") return this.headerSettled!;
    if (this.headerWrite !== "failed") return;
    if (this.tracer?.retryHeaderWrite) this.tracer.retryHeaderWrite();
    await this.issueHeaderWrite(this.sharedHeader ? this.area : this.headerBuffer);
  }

  /**
   * A valid = 0 header is durable on the COW: written by this run (the FUA
   * write completed) or found at activation. Until then a crash, or the
   * next activation, sees the snapshot valid.
   */
  get invalidOnDisk(): boolean {
    return this.activatedFrom === "invalid" || this.headerWrite === "done";
  }

  /** Issues the header write; CompleteHeaderWrite or FailHeaderWrite when it settles. Never rejects. */
  private issueHeaderWrite(buffer: Uint8Array): Promise<void> {
    this.headerWrite = "writing";
    let writing: Promise<void>;
    try {
      writing = this.device.write(0, buffer, this.plainHeader ? {} : { fua: true });
    } catch (e) {
      writing = Promise.reject(e);
    }
    this.headerSettled = writing.then(
      () => {
        this.headerAttempts++;
        this.headerWrite = "done";
        this.headerError = null;
      },
      (e: unknown) => {
        this.headerAttempts++;
        this.headerWrite = "failed";
        this.headerError = ioError(e, "writing the invalidated header");
        this.errors.push(this.headerError);
        if (this.tracer?.failHeaderWrite) this.tracer.failHeaderWrite();
      },
    );
    return this.headerSettled;
  }

  /** Usage as `dmsetup status` reports it. */
  usage(): Usage {
    return layoutUsage(this.chunkSize, this.nextFree, this.currentArea, this.totalSectors);
  }

  /** The store's part of `dmsetup status`: `allocated/total metadata`, `Invalid` or `Overflow`. */
  status(): string {
    if (!this.valid) return "Invalid";
    if (this.overflowed) return "Overflow";
    return usageStatus(this.usage());
  }

  /** Resolves when no store step is running or queued. */
  idle(): Promise<void> {
    if (!this.busy && this.queueHead === this.queue.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Merge, first half: how many entries at the end of the committed list are
   * consecutive (old and new both step down by one, walking backwards), and the
   * last entry's chunks. Steps back to the previous area when the current one is empty.
   */
  prepareMerge(): Promise<{ count: number; lastOld: number; lastNew: number }> {
    return this.serialised(async () => {
      if (!this.valid) throw new StoreError(StoreErrorCode.SnapshotInvalid, "cannot merge an invalid snapshot; its exceptions are not trustworthy");
      if (this.currentIndex === 0) {
        if (this.currentArea === 0) return { count: 0, lastOld: -1, lastNew: -1 };
        this.currentArea--;
        try {
          const bytes = await this.device.read(areaOffset(this.chunkSize, this.currentArea), this.chunkBytes);
          this.area.set(bytes);
        } catch (e) {
          this.currentArea++;
          throw ioError(e, `reading metadata area ${this.currentArea - 1} for merge`);
        }
        this.currentIndex = this.exceptionsPerArea;
      }
      const last = this.entry(this.currentIndex - 1);
      let count = 1;
      while (count < this.currentIndex) {
        const e = this.entry(this.currentIndex - 1 - count);
        if (e.old !== last.old - count || e.new !== last.new - count) break;
        count++;
      }
      return { count, lastOld: last.old, lastNew: last.new };
    });
  }

  /** Merge, second half: clears the last `count` entries and writes the area (flush-before + FUA). */
  commitMerge(count: number): Promise<void> {
    return this.serialised(async () => {
      if (!Number.isInteger(count) || count < 0 || count > this.currentIndex) {
        throw new StoreError(StoreErrorCode.InvalidArgument, `commitMerge(${count}): only ${this.currentIndex} entries are in the current area; call prepareMerge first`);
      }
      for (let i = 0; i < count; i++) clearEntry(this.area, this.currentIndex - 1 - i);
      try {
        await this.device.write(areaOffset(this.chunkSize, this.currentArea), this.area, { flushBefore: true, fua: true });
      } catch (e) {
        this.fail(e, `writing metadata area ${this.currentArea} after a merge`);
        throw this.errors[this.errors.length - 1]!;
      }
      this.currentIndex -= count;
      this.nextFree = dataChunk(this.chunkSize, this.currentArea, this.currentIndex);
    });
  }

  private entry(index: number): { old: number; new: number } {
    const e = readEntry(this.area, index);
    return { old: joinU64(e.oldLow, e.oldHigh), new: joinU64(e.newLow, e.newHigh) };
  }

  /** Runs `fn` as a store step: after the steps before it, with later ones queued behind it. */
  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = () => {
        this.busy = true;
        fn().then(resolve, reject).finally(() => this.release());
      };
      if (this.busy) this.queue.push(run);
      else run();
    });
  }

  /**
   * TEST ONLY (the model's counterexamples replayed into the engine, whose
   * areas hold 32+ entries where the model's hold 2 or 3): appends `count`
   * entries to the in-memory area, as if committed earlier, each with the
   * next free chunk and origin chunk `oldBase + i`. Nothing is written now.
   */
  unsafeFillArea(count: number, oldBase: number): void {
    for (let i = 0; i < count; i++) {
      this.putEntry(this.currentIndex++, oldBase + i, this.nextFree);
      this.nextFree = advanceNextFree(this.chunkSize, this.nextFree);
    }
  }

  /** Entries currently in the in-memory area (tests and tools). */
  areaEntries(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = 0; i < this.currentIndex; i++) {
      const e = this.entry(i);
      out.push([e.old, e.new]);
    }
    return out;
  }
}

/** The model's `cpc'` after a commit step. */
function commitNext(batched: boolean, zeroing: boolean): CommitNext {
  return batched ? "idle" : zeroing ? "zeroing" : "prewrite";
}

/** TEST ONLY: next_free after a reload without stepping over a metadata chunk (before CVE-2013-4299's fix). */
function unskippedNextFree(image: CowImage): number {
  let max = FIRST_DATA_CHUNK - 1;
  for (const [, n] of image.exceptions.toPairs()) if (n > max) max = n;
  return max + 1;
}
