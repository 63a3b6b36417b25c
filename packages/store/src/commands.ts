/**
 * The logic behind `dmsnap create` and `dmsnap write` (export: export.ts), as
 * plain functions over file paths (the CLI wraps them; tests call them).
 * Refusals keep the format's codes (the same as `dmsnap dump`) or use the
 * store's; nothing here writes to a file it was not asked to write.
 */
import { constants as fsConstants, promises as fs } from "node:fs";
import { basename, dirname, join } from "node:path";
import { capacity, decodeCowAsync, deviceSectors, SECTOR_SIZE, validateChunkSize } from "@dmsnap/format";
import { deviceReader } from "./device.js";
import { FileDevice } from "./fileDevice.js";
import { StoreError, StoreErrorCode } from "./errors.js";
import { HeaderNotDurableError, headerNotDurableError, Snapshot } from "./snapshot.js";
import { copyRange, reserve } from "./reserve.js";
import { PersistentStore } from "./store.js";
import { refuseSame, syncDir } from "./fsPaths.js";
import { pathIdentity } from "./sameFile.js";
import { isBlankNewCow } from "./newCow.js";

export interface CreateOptions {
  cow: string;
  /** Chunk size in sectors. */
  chunkSize: number;
  /** Size in bytes of a COW file to create; omit to initialise an existing (zeroed) file or device. */
  size?: number;
}

export interface CreateResult {
  cow: string;
  created: boolean;
  chunkSize: number;
  deviceBytes: number;
  /** The most exceptions this COW can hold. */
  capacity: number;
  status: string;
}

/**
 * Initialises a COW exactly as the kernel's first activation does: area 0
 * zeroed, header written (valid, version 1, the chunk size). A new file is
 * built under a temporary name and renamed into place once durable.
 */
export async function createCow(options: CreateOptions): Promise<CreateResult> {
  validateChunkSize(options.chunkSize);
  const exists = await fs.stat(options.cow).then(
    (st) => st,
    (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? null : Promise.reject(e)),
  );
  if (exists && options.size !== undefined && exists.isFile() && exists.size !== options.size) {
    throw new StoreError(StoreErrorCode.InvalidArgument, `${options.cow} already exists with ${exists.size} bytes, not ${options.size}; omit --size to initialise it as it is, or pick a new path`);
  }
  if (!exists) {
    if (options.size === undefined) {
      throw new StoreError(StoreErrorCode.InvalidArgument, `${options.cow} does not exist; give --size <bytes> to create it, or point --cow at an existing zeroed file or device`);
    }
    if (!Number.isSafeInteger(options.size) || options.size <= 0 || options.size % SECTOR_SIZE !== 0) {
      throw new StoreError(StoreErrorCode.InvalidArgument, `--size must be a positive multiple of 512 bytes, got ${options.size}`);
    }
    const tmp = join(dirname(options.cow), `.${basename(options.cow)}.dmsnap-tmp-${process.pid}`);
    const handle = await fs.open(tmp, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
    try {
      await handle.truncate(options.size);
    } finally {
      await handle.close();
    }
    try {
      const result = await initialise(tmp, options.chunkSize);
      await fs.rename(tmp, options.cow);
      await syncDir(dirname(options.cow));
      return { ...result, cow: options.cow, created: true };
    } catch (e) {
      await fs.rm(tmp, { force: true });
      throw e;
    }
  }
  return { ...(await initialise(options.cow, options.chunkSize)), created: false };
}

async function initialise(path: string, chunkSize: number): Promise<CreateResult> {
  const dev = await FileDevice.open(path);
  try {
    return await initialiseCow(dev, path, chunkSize);
  } finally {
    await dev.close();
  }
}

/**
 * Initialises the blank COW on an open device (the CLI opens, checks and
 * locks it; a new file is a temporary it renames into place afterwards).
 * Refuses ALREADY_INITIALISED if it holds a snapshot. Leaves `dev` open.
 */
export async function initialiseCow(dev: FileDevice, path: string, chunkSize: number): Promise<CreateResult> {
  {
    // One activation: it checks the table's chunk size before reading, decodes
    // the COW once, and writes only when it found a blank one (a valid or
    // invalid COW is loaded, not written).
    const store = await PersistentStore.open(dev, { chunkSize });
    if (store.activatedFrom !== "new") {
      throw new StoreError(
        StoreErrorCode.AlreadyInitialised,
        `${path} already holds a${store.activatedFrom === "invalid" ? "n" : ""} ${store.activatedFrom} snapshot (chunk size ${store.chunkSize}); create only initialises a blank (zeroed) COW; use 'dmsnap dump' to inspect it, or zero its first chunks to start over`,
      );
    }
    await dev.flush();
    return {
      cow: path,
      created: false,
      chunkSize: store.chunkSize,
      deviceBytes: dev.size,
      capacity: capacity(store.chunkSize, deviceSectors(dev.size)).dataChunks,
      status: store.status(),
    };
  }
}

export interface WriteOptions {
  origin: string;
  cow: string;
  /** Byte offset in the origin / snapshot. */
  offset: number;
  /** File whose bytes are written. */
  input: string;
  target?: "origin" | "snapshot";
  /** Table chunk size (sectors), used only if the COW is blank. */
  chunkSize?: number;
  /** The PO option: a full COW makes snapshot writes fail with OVERFLOW instead of invalidating. */
  overflow?: boolean;
  /**
   * Devices the caller opened, checked (same file, kind) and locked itself;
   * the paths are then only names for messages, and the caller closes them.
   */
  opened?: { origin: FileDevice; cow: FileDevice; input: InputSource; inputBytes: number };
}

/** Where `write` takes its bytes from (a fs.FileHandle fits). */
export interface InputSource {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export interface WriteResult {
  target: "origin" | "snapshot";
  offset: number;
  bytes: number;
  /** Exceptions committed by this write. */
  exceptionsAdded: number;
  /** `dmsetup status` of the snapshot afterwards. */
  status: string;
}

const PIECE = 4 * 1024 * 1024;

/**
 * Applies one write through the snapshot semantics and makes it durable
 * (both devices flushed) before returning. An origin write on a full COW
 * still happens, but invalidates the snapshot: that is reported as NO_SPACE.
 */
export async function applyWrite(options: WriteOptions): Promise<WriteResult> {
  const target = options.target ?? "origin";
  if (target !== "origin" && target !== "snapshot") throw new StoreError(StoreErrorCode.InvalidArgument, `--target is origin or snapshot, not '${String(target)}'`);
  if (!Number.isSafeInteger(options.offset) || options.offset < 0) throw new StoreError(StoreErrorCode.InvalidArgument, `--offset must be a whole number of bytes, got ${options.offset}`);
  const opened = options.opened;
  if (!opened) {
    await refuseSame(options.input, [options.origin, options.cow], "--input");
    if ((await pathIdentity(options.origin)) === (await pathIdentity(options.cow))) throw new StoreError(StoreErrorCode.SameFile, "--origin and --cow are the same file; a snapshot needs a separate COW device");
  }
  const inputHandle = opened ? undefined : await fs.open(options.input, "r");
  const input: InputSource = opened?.input ?? inputHandle!;
  const originDev = opened?.origin ?? (await FileDevice.open(options.origin));
  let cowDev: FileDevice | undefined;
  try {
    const length = opened ? opened.inputBytes : (await inputHandle!.stat()).size;
    if (options.offset + length > originDev.size) {
      throw new StoreError(StoreErrorCode.OriginSize, `the write of ${length} bytes at offset ${options.offset} ends at ${options.offset + length}, past the end of the ${originDev.size}-byte origin; the snapshot has the origin's size`);
    }
    cowDev = opened?.cow ?? (await FileDevice.open(options.cow));
    // Write never initialises a COW (create does): a blank one is refused, and one whose magic is 0 over data even more so.
    const swapped = ". Write never initialises a COW (check that --origin and --cow are not swapped); nothing was written";
    if (await isBlankNewCow(cowDev, options.cow, { ...(options.chunkSize ? { tableChunkSize: options.chunkSize } : {}), activate: true, hint: swapped })) {
      throw new StoreError(
        StoreErrorCode.NotInitialised,
        `${options.cow} is a blank COW (magic 0, its header chunk and area 0 all zeros): write never initialises a COW; run 'dmsnap create --cow ${options.cow} --chunk-size <sectors>' first (it writes the header and zeroes area 0 as the kernel's first activation does), then write again; nothing was written`,
      );
    }
    const snap = await Snapshot.open(originDev, cowDev, { ...(options.chunkSize ? { chunkSize: options.chunkSize } : {}), overflow: options.overflow ?? false });
    const before = snap.index.size;
    if (target === "snapshot" && !snap.valid) {
      throw new StoreError(StoreErrorCode.SnapshotInvalid, `the snapshot in ${options.cow} is invalid (its header says valid = 0), so its view cannot be written; the origin is intact; remove the snapshot and create a new one`);
    }
    const wasValid = snap.valid;
    // Room for the copies first: a sparse COW on a full file system refuses here, before the origin is touched.
    const range = copyRange(snap, options.offset, length);
    if (range) await reserve(cowDev, range.from, range.to, range.chunks);
    const buf = new Uint8Array(Math.min(PIECE, Math.max(1, length)));
    for (let done = 0; done < length; ) {
      const n = Math.min(buf.length, length - done);
      const piece = buf.subarray(0, n);
      let got = 0;
      while (got < n) {
        const { bytesRead } = await input.read(piece, got, n - got, done + got);
        if (bytesRead === 0) throw new StoreError(StoreErrorCode.IoError, `${options.input} ended early at byte ${done + got}`);
        got += bytesRead;
      }
      if (target === "origin") {
        try {
          await snap.writeOrigin(options.offset + done, piece);
        } catch (e) {
          // Invalidated but not on disk: this piece and the rest are not written (docs/store.md, "A failed invalidation").
          if (!(e instanceof HeaderNotDurableError)) throw e;
          throw headerNotDurableError(
            snap,
            `the origin was NOT written (${length - done} bytes at offset ${options.offset + done}${done > 0 ? `; the ${done} bytes before them were, their old data kept in the snapshot` : ""})`,
          );
        }
      }
      else await snap.writeSnapshot(options.offset + done, piece);
      done += n;
    }
    await snap.idle();
    await snap.flush();
    if (wasValid && !snap.valid) {
      const cause = snap.errors[snap.errors.length - 1] ?? snap.store.errors[snap.store.errors.length - 1];
      throw new StoreError(
        cause?.code === StoreErrorCode.IoError ? StoreErrorCode.IoError : StoreErrorCode.NoSpace,
        `the origin was written, but the snapshot was invalidated: ${cause?.message ?? "the COW is full"}; create a larger snapshot`,
      );
    }
    return { target, offset: options.offset, bytes: length, exceptionsAdded: snap.index.size - before, status: snap.status() };
  } finally {
    if (!opened) {
      await inputHandle!.close();
      await originDev.close();
      await cowDev?.close();
    }
  }
}
