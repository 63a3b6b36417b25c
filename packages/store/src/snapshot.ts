/**
 * The snapshot target around the store (the kernel's dm-snap.c, reduced to its
 * data path): a snapshot view of the origin as it was when the COW was blank,
 * kept by copying each origin chunk to the COW before its first overwrite.
 *
 * - read: chunk from the COW if it has an exception, else from the origin;
 *   origin reads are tracked so an exception cannot complete (and release
 *   origin writes to that chunk) while a snapshot read of the old data is in flight.
 * - origin write: every touched chunk without an exception is copied to a newly
 *   prepared COW chunk and committed; the origin write waits for the commits.
 *   No space (or a failed copy or commit): the snapshot is invalidated and the
 *   write goes on once the valid = 0 header is durable. If that header write
 *   fails, the write fails with an I/O error and is not written; each later
 *   origin write that needs a copy retries the header write first and fails
 *   the same way if it fails again (writes to chunks with a committed
 *   exception go on). The COW then still says valid, and its view is intact.
 * - snapshot write: allocate (copy the origin chunk unless the write covers it
 *   all), commit, then write into the COW chunk. No space: Overflow in overflow
 *   mode, otherwise the snapshot is invalidated; the write fails either way.
 * - exceptions are committed in allocation order: a copy that finishes early
 *   waits for every exception allocated before it (no leaked COW chunks).
 */
import { chunkAtByte, chunkOffset, chunksCovering } from "@dmsnap/format";
import { checkRange, type BlockDevice } from "./device.js";
import { ioError, isStoreError, StoreError, StoreErrorCode } from "./errors.js";
import { ExceptionIndex } from "./exceptionIndex.js";
import { PersistentStore, type StoreOptions } from "./store.js";

/** Copies of chunks larger than this go in pieces of this size. */
const COPY_PIECE = 1 << 20;

interface Pending {
  readonly old: number;
  readonly newChunk: number;
  copyDone: boolean;
  copyOk: boolean;
  readonly done: Promise<boolean>;
  resolve: (ok: boolean) => void;
}

export class Snapshot {
  readonly index: ExceptionIndex;
  /** False once the snapshot is invalidated (on disk or by this run). */
  valid: boolean;
  /** Errors that invalidated the snapshot or failed a write, in order. */
  readonly errors: StoreError[] = [];

  private readonly pending = new Map<number, Pending>();
  private order: Pending[] = [];
  private head = 0;
  private readonly tracked = new Map<number, number>();
  private readonly drainWaiters = new Map<number, Array<() => void>>();
  private invalidation: Promise<void> | null = null;
  private originWaitsHeader = true;
  private readonly cb: number;
  private readonly chunkCount: number;

  private constructor(
    readonly origin: BlockDevice,
    readonly store: PersistentStore,
  ) {
    this.index = ExceptionIndex.fromTable(store.loaded);
    this.valid = store.valid;
    this.cb = store.chunkBytes;
    this.chunkCount = chunksCovering(this.chunkSize, origin.size);
  }

  static async open(origin: BlockDevice, cow: BlockDevice, options: StoreOptions = {}): Promise<Snapshot> {
    const snap = new Snapshot(origin, await PersistentStore.open(cow, options));
    snap.originWaitsHeader = options.unsafeOriginSkipsHeaderWait !== true;
    return snap;
  }

  get cow(): BlockDevice {
    return this.store.device;
  }
  get chunkSize(): number {
    return this.store.chunkSize;
  }
  /** The snapshot has the origin's size. */
  get size(): number {
    return this.origin.size;
  }
  get overflowed(): boolean {
    return this.store.overflowed;
  }
  /** Exceptions allocated and not yet completed. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** `dmsetup status` for the snapshot: `allocated/total metadata`, `Invalid` or `Overflow`. */
  status(): string {
    return this.valid ? this.store.status() : "Invalid";
  }

  /** Bytes of origin chunk `c` (the last chunk may be partial). */
  private chunkLength(c: number): number {
    return Math.min(this.cb, this.origin.size - c * this.cb);
  }

  /** Reads the snapshot view. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    this.requireReadable();
    checkRange(this.origin, offset, length, "snapshot read");
    const out = new Uint8Array(length);
    const tasks: Promise<void>[] = [];
    const end = offset + length;
    let pos = offset;
    while (pos < end) {
      const c = chunkAtByte(this.chunkSize, pos);
      const n = this.index.get(c);
      if (n >= 0) {
        const stop = Math.min(end, (c + 1) * this.cb);
        const at = pos;
        tasks.push(this.cow.read(chunkOffset(this.chunkSize, n) + (pos - c * this.cb), stop - pos).then((b) => out.set(b, at - offset)));
        pos = stop;
        continue;
      }
      // A run of chunks with no exception: one origin read, tracked chunk by chunk.
      let last = c;
      while ((last + 1) * this.cb < end && this.index.get(last + 1) < 0) last++;
      const stop = Math.min(end, (last + 1) * this.cb);
      for (let k = c; k <= last; k++) this.track(k);
      const at = pos;
      tasks.push(
        this.origin
          .read(pos, stop - pos)
          .then((b) => out.set(b, at - offset))
          .finally(() => {
            for (let k = c; k <= last; k++) this.untrack(k);
          }),
      );
      pos = stop;
    }
    await Promise.all(tasks);
    return out;
  }

  /**
   * Writes the origin, copying each touched chunk to the COW first. Throws
   * IO_ERROR without writing anything when the snapshot has been invalidated
   * but its valid = 0 header could not be written (see the file's comment).
   */
  async writeOrigin(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this.origin, offset, data.length, "origin write");
    // Header writes settled before this write: one settling while it waits was made on its behalf.
    const attemptsBefore = this.store.headerAttempts;
    const waits: Promise<boolean>[] = [];
    if (this.valid && data.length > 0) {
      const last = Math.floor((offset + data.length - 1) / this.cb);
      for (let c = chunkAtByte(this.chunkSize, offset); c <= last; c++) {
        if (this.index.get(c) >= 0) continue;
        let p = this.pending.get(c);
        if (!p) {
          try {
            p = this.start(c, null);
          } catch (e) {
            if (!isStoreError(e, StoreErrorCode.NoSpace)) throw e;
            this.errors.push(e);
            // Out of space: the snapshot is lost, the origin write goes on.
            await this.invalidate();
            break;
          }
        }
        waits.push(p.done);
      }
    }
    await Promise.all(waits);
    // Once the snapshot is being invalidated, no origin write may pass the
    // header write that says so: a crash in between would leave a valid
    // header over post-snapshot origin data (Linux 6.1 lets it pass;
    // docs/kernel-findings.md, model configuration origin-before-header).
    if (this.invalidation && this.originWaitsHeader) {
      await this.invalidation;
      if (!this.store.invalidOnDisk && data.length > 0 && this.needsCopy(offset, data.length)) await this.releaseByHeader(offset, data.length, attemptsBefore);
    }
    try {
      await this.origin.write(offset, data);
    } catch (e) {
      throw ioError(e, `writing ${data.length} bytes at offset ${offset} of the origin`);
    }
  }

  /** Some chunk of the range has no committed exception: its old data lives only on the origin. */
  private needsCopy(offset: number, length: number): boolean {
    const last = Math.floor((offset + length - 1) / this.cb);
    for (let c = chunkAtByte(this.chunkSize, offset); c <= last; c++) if (this.index.get(c) < 0) return true;
    return false;
  }

  /**
   * The invalidating header write failed and this origin write needs a copy:
   * it may go on only once valid = 0 is durable. A write that saw a header
   * write fail while it waited (it triggered the invalidation, or waited on
   * it) fails at once (the model's FailOriginWrite); a later one first
   * retries the header write (RetryHeaderWrite) and fails if that fails too.
   */
  private async releaseByHeader(offset: number, length: number, attemptsBefore: number): Promise<void> {
    if (this.store.headerAttempts === attemptsBefore) await this.store.retryHeaderWrite();
    if (this.store.invalidOnDisk) return;
    throw this.headerNotDurableError(offset, length);
  }

  private headerNotDurableError(offset: number, length: number): HeaderNotDurableError {
    return headerNotDurableError(this, `the origin write of ${length} bytes at offset ${offset} was not written`);
  }

  /** Writes the snapshot itself. */
  async writeSnapshot(offset: number, data: Uint8Array): Promise<void> {
    this.requireReadable();
    if (this.store.overflowed) throw overflowError();
    checkRange(this.origin, offset, data.length, "snapshot write");
    const tasks: Promise<void>[] = [];
    const end = offset + data.length;
    for (let pos = offset; pos < end; ) {
      const c = chunkAtByte(this.chunkSize, pos);
      const stop = Math.min(end, (c + 1) * this.cb);
      tasks.push(this.writeSnapshotChunk(c, pos - c * this.cb, data.subarray(pos - offset, stop - offset)));
      pos = stop;
    }
    await Promise.all(tasks);
  }

  private writeSnapshotChunk(c: number, inner: number, slice: Uint8Array): Promise<void> {
    const n = this.index.get(c);
    if (n >= 0) return this.writeCow(n, inner, slice);
    let p = this.pending.get(c);
    if (!p) {
      const whole = inner === 0 && slice.length === this.chunkLength(c);
      try {
        p = this.start(c, whole ? slice : null);
      } catch (e) {
        if (!isStoreError(e, StoreErrorCode.NoSpace)) return Promise.reject(e);
        if (this.store.overflowMode) {
          this.store.overflowed = true;
          return Promise.reject(overflowError());
        }
        this.errors.push(e);
        return this.invalidate().then(() => Promise.reject(e));
      }
      if (whole) return p.done.then((ok) => (ok ? undefined : Promise.reject(this.invalidError())));
    }
    const q = p;
    return q.done.then((ok) => (ok ? this.writeCow(q.newChunk, inner, slice) : Promise.reject(this.invalidError())));
  }

  private async writeCow(newChunk: number, inner: number, slice: Uint8Array): Promise<void> {
    try {
      await this.cow.write(chunkOffset(this.chunkSize, newChunk) + inner, slice);
    } catch (e) {
      // Data written to the snapshot is lost: the kernel invalidates on any COW write error.
      const err = ioError(e, `writing snapshot data into COW chunk ${newChunk}`);
      this.errors.push(err);
      await this.invalidate();
      throw err;
    }
  }

  /** Allocates an exception for origin chunk `c` and starts its copy (or writes `fill`). Throws NO_SPACE. */
  private start(c: number, fill: Uint8Array | null): Pending {
    const newChunk = this.store.prepare();
    let resolve!: (ok: boolean) => void;
    const done = new Promise<boolean>((r) => (resolve = r));
    const p: Pending = { old: c, newChunk, copyDone: false, copyOk: false, done, resolve };
    this.pending.set(c, p);
    this.order.push(p);
    void this.copy(p, fill);
    return p;
  }

  private async copy(p: Pending, fill: Uint8Array | null): Promise<void> {
    try {
      const length = this.chunkLength(p.old);
      const at = chunkOffset(this.chunkSize, p.newChunk);
      if (fill || length <= COPY_PIECE) await this.cow.write(at, fill ?? (await this.origin.read(p.old * this.cb, length)));
      // A huge chunk (up to 1 GiB) is copied in bounded pieces, never held whole.
      else for (let done = 0; done < length; done += COPY_PIECE) await this.cow.write(at + done, await this.origin.read(p.old * this.cb + done, Math.min(COPY_PIECE, length - done)));
      p.copyOk = true;
    } catch (e) {
      this.errors.push(ioError(e, `copying origin chunk ${p.old} to COW chunk ${p.newChunk}`));
    }
    p.copyDone = true;
    this.commitInOrder();
  }

  /** Commits finished copies in allocation order. */
  private commitInOrder(): void {
    const order = this.order;
    while (this.head < order.length && order[this.head]!.copyDone) {
      const p = order[this.head++]!;
      this.store.commit(p.old, p.newChunk, p.copyOk).then(
        (ok) => this.completed(p, ok),
        () => this.completed(p, false),
      );
    }
    if (this.head > 1024 && this.head * 2 > order.length) {
      this.order = order.slice(this.head);
      this.head = 0;
    }
  }

  private async completed(p: Pending, ok: boolean): Promise<void> {
    if (ok) this.index.set(p.old, p.newChunk);
    else await this.invalidate();
    if (ok) await this.readsDrained(p.old);
    this.pending.delete(p.old);
    p.resolve(ok);
  }

  /**
   * Invalidates the snapshot (drop): the header is rewritten with valid = 0.
   * Idempotent; resolves when the header write has settled.
   */
  invalidate(): Promise<void> {
    this.valid = false;
    if (!this.invalidation) this.invalidation = this.store.drop();
    return this.invalidation;
  }

  /** Flushes both devices: every completed write becomes durable. */
  async flush(): Promise<void> {
    try {
      await Promise.all([this.origin.flush(), this.cow.flush()]);
    } catch (e) {
      throw ioError(e, "flushing the origin and COW");
    }
  }

  /** Waits until no exception is in flight and the store has no commit step queued. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending.values()].map((p) => p.done));
    await this.store.idle();
    if (this.invalidation && this.originWaitsHeader) await this.invalidation;
  }

  /** Origin chunks and their COW chunks (tests and tools; allocates). */
  exceptions(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    this.index.forEach((o, n) => out.push([o, n]));
    return out.sort((a, b) => a[0] - b[0]);
  }

  get chunks(): number {
    return this.chunkCount;
  }

  private requireReadable(): void {
    if (!this.valid) throw this.invalidError();
  }

  private invalidError(): StoreError {
    const cause = this.errors[this.errors.length - 1] ?? this.store.errors[this.store.errors.length - 1];
    return new StoreError(
      StoreErrorCode.SnapshotInvalid,
      `the snapshot is invalid${cause ? ` (${cause.code}: ${cause.message})` : " (its header says valid = 0)"}; its view is gone, the origin is intact; remove the snapshot and create a new one`,
    );
  }

  private track(c: number): void {
    this.tracked.set(c, (this.tracked.get(c) ?? 0) + 1);
  }

  private untrack(c: number): void {
    const n = (this.tracked.get(c) ?? 1) - 1;
    if (n > 0) {
      this.tracked.set(c, n);
      return;
    }
    this.tracked.delete(c);
    const waiters = this.drainWaiters.get(c);
    if (waiters) {
      this.drainWaiters.delete(c);
      for (const w of waiters) w();
    }
  }

  private readsDrained(c: number): Promise<void> {
    if (!this.tracked.has(c)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.drainWaiters.get(c);
      if (list) list.push(resolve);
      else this.drainWaiters.set(c, [resolve]);
    });
  }
}

/** An origin write refused because the snapshot's valid = 0 header is not durable (code IO_ERROR). */
export class HeaderNotDurableError extends StoreError {}

/**
 * The error of an origin write refused because the snapshot's valid = 0
 * header could not be written: `what` (the write not done), why the snapshot
 * was being invalidated, why the header write failed, what holds, what next.
 * Its cause is the header write's system error (the CLI prints IO_<errno>).
 */
export function headerNotDurableError(snap: Snapshot, what: string): HeaderNotDurableError {
  const header = snap.store.headerError;
  const why = snap.errors[0] ?? snap.store.errors[0];
  const bare = (e: StoreError) => e.message.replace(/; check the device.*$/, "");
  return new HeaderNotDurableError(
    StoreErrorCode.IoError,
    `${what}: the snapshot had to be invalidated${why && why !== header ? ` (${bare(why)})` : ""}, but it could not be marked invalid on the COW` +
      ` (${header ? bare(header) : "writing the invalidated header failed"}), so the COW still says the snapshot is valid, and its view is intact;` +
      ` make the COW device writable again (check dmesg, 'blockdev --getro', free space), export the snapshot first if you need its data,` +
      ` then write again: the next origin write retries marking the snapshot invalid before it writes`,
    { cause: header?.cause ?? header },
  );
}

function overflowError(): StoreError {
  return new StoreError(
    StoreErrorCode.Overflow,
    "the COW device is full (Overflow): writes to the snapshot fail, its view stays readable; copy out what you need and make a larger snapshot",
  );
}
