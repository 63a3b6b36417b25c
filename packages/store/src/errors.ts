/**
 * Stable error codes of the store and the snapshot around it. Like the
 * format's codes, a code never changes meaning once published; the CLI prints
 * it and tools match on it. Format refusals keep their FormatError codes.
 */
export const StoreErrorCode = {
  /** The COW device has no free chunk left for a new exception. */
  NoSpace: "NO_SPACE",
  /** A read, write or flush failed; the store was invalidated if it was a write. */
  IoError: "IO_ERROR",
  /** The snapshot is invalid (invalidated on disk or during this run): its view cannot be read or written. */
  SnapshotInvalid: "SNAPSHOT_INVALID",
  /** Overflow mode (PO): the COW is full, so writes to the snapshot fail; the snapshot stays readable. */
  Overflow: "OVERFLOW",
  /** A range lies outside the origin (or the origin is unusable). */
  OriginSize: "ORIGIN_SIZE",
  /** The COW already holds a snapshot, so `create` refuses to touch it. */
  AlreadyInitialised: "ALREADY_INITIALISED",
  /** A caller broke the store's protocol (commit without prepare, merge on an invalid store...). */
  InvalidArgument: "INVALID_ARGUMENT",
  /** The output file is one of the inputs. */
  SameFile: "SAME_FILE",
  /** An exception's COW chunk lies past the end of the COW: the kernel fails reads of it. */
  ChunkBeyondDevice: "NEW_CHUNK_BEYOND_DEVICE",
  /** Restore: the target is smaller than the metadata's device. */
  TargetTooSmall: "TARGET_TOO_SMALL",
  /** Restore: the target already holds a SnAp header (overwriting needs `force`). */
  CowExists: "COW_EXISTS",
  /** Restore: the target starts with something neither blank nor a snapshot (overwriting needs `force`). */
  TargetNotBlank: "TARGET_NOT_BLANK",
  /** The COW's magic is 0 but its header chunk or area 0 is not all zeros: reading it as new would lose what is there. */
  NewCowNotBlank: "NEW_COW_NOT_BLANK",
  /** Write: the COW is blank (magic 0); write never initialises one ('dmsnap create' does). */
  NotInitialised: "NOT_INITIALISED",
  /** Repair: no chunk size makes the metadata parse and the header gives none. */
  ChunkSizeUnknown: "CHUNK_SIZE_UNKNOWN",
  /** Repair: the salvaged entries exactly fill the last area and the zeroed area that must follow lies past the device's end. */
  NoRoom: "NO_ROOM",
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/**
 * Exit status the CLI uses for each code (1: the image or operation was
 * refused; 2: usage or I/O). A target that already holds data (a snapshot
 * header, anything non-blank) is 2, as the CLI's OUTPUT_EXISTS: nothing was
 * read as an image; choose another target or --force (docs/cli.md).
 */
const EXIT: Record<StoreErrorCode, number> = {
  NO_SPACE: 1,
  IO_ERROR: 2,
  SNAPSHOT_INVALID: 1,
  OVERFLOW: 1,
  ORIGIN_SIZE: 2,
  ALREADY_INITIALISED: 2,
  INVALID_ARGUMENT: 2,
  SAME_FILE: 2,
  NEW_CHUNK_BEYOND_DEVICE: 1,
  TARGET_TOO_SMALL: 1,
  COW_EXISTS: 2,
  TARGET_NOT_BLANK: 2,
  NEW_COW_NOT_BLANK: 1,
  NOT_INITIALISED: 1,
  CHUNK_SIZE_UNKNOWN: 1,
  NO_ROOM: 1,
};

export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly exitCode: number;
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = EXIT[code];
  }

  toJSON(): { code: StoreErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}

const COW_NEXT_STEP = "check the device (dmesg, free space) and run 'dmsnap dump' on the COW to see what was written";

/** Wraps a failed device operation (a Node system error or an injected fault); `next` replaces the advice about the COW (for a device that is not one: an output). */
export function ioError(e: unknown, doing: string, next: string = COW_NEXT_STEP): StoreError {
  if (e instanceof StoreError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new StoreError(StoreErrorCode.IoError, `${doing} failed: ${detail}; ${next}`, { cause: e });
}
