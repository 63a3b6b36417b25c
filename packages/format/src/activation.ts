/**
 * Activation: how the kernel reads a COW device when a snapshot is created
 * over it. The steps live in one class fed by the sync and async entry points
 * (decodeCow / decodeCowAsync), so both read exactly the same way.
 */
import { chunkSizeProblem, defaultChunkSize } from "./chunkSize.js";
import { DISK_VERSION, HEADER_SIZE, MAX_CHUNK_NUMBER, SECTOR_SIZE, SNAP_MAGIC } from "./constants.js";
import { ErrorCode, FormatError } from "./errors.js";
import { ExceptionTable } from "./exceptionTable.js";
import { decodeEntriesInto, scanEntries, type EntriesDecodeResult } from "./area.js";
import { decodeHeader, type Header } from "./header.js";
import { areaLocation, capacity, chunkBytes, chunkOffset, chunkSectors, chunksInDevice, deviceSectors, entriesIn, entryOffset, exceptionsPerArea, nextFreeAfterLoad, usage, type Usage } from "./layout.js";
import type { AsyncReader, SyncReader } from "./reader.js";
import { magicText, sniffSignature } from "./signature.js";

/** Entries reserved up front at most (32 MiB); larger tables grow by doubling. */
const INITIAL_TABLE_CAP = 1 << 21;
/** Areas are read in pieces of at most this many bytes: a 1 GiB chunk never needs a 1 GiB buffer. */
export const AREA_READ_PIECE = 1 << 20;

export type CowState = "new" | "valid" | "invalid";

export interface ActivationOptions {
  /**
   * The chunk size in the snapshot table, in sectors. Used for a new (blank)
   * COW; an existing header's chunk size overrides it. Default: the on-disk
   * chunk size for an existing COW, the kernel's default (32) for a new one.
   */
  tableChunkSize?: number;
  /** Logical block size of the COW device in bytes (default 512). */
  logicalBlockSize?: number;
  /**
   * Read the metadata areas even when the header's valid word is 0. The kernel
   * loads no exceptions from an invalidated COW, but the entries are still on
   * disk; tools that dump or salvage them (lossless dump, repair) set this.
   * The state stays "invalid"; `exceptions` then holds what the areas say.
   */
  readInvalid?: boolean;
  /**
   * Keep every loaded entry in `exceptions` (default true). With false the
   * entries are only handed to `onEntries` and memory stays constant: the
   * streaming path of dump, usage and restore's reader.
   */
  keepEntries?: boolean;
  /** Entries to reserve room for up front (a count from an earlier streaming pass): no growth by doubling. */
  reserveEntries?: number;
  /** Called after each piece with the entries it loaded: rows [from, from + count) of `table`. */
  onEntries?: (table: ExceptionTable, from: number, count: number) => void;
  /**
   * Called after each piece with its bytes and how many entries it loaded
   * (entries 0 .. count-1 of `bytes`, 16 bytes each, all checked): for a
   * reader that formats the entries straight from the bytes (dump --json)
   * instead of copying them into a table first. Only with keepEntries false
   * and no onEntries; `bytes` is valid during the call.
   */
  onPiece?: (bytes: Uint8Array, count: number) => void;
}

/** A COW device as activation sees it: the one model every tool reads. */
export interface CowImage {
  /** Device size in bytes. */
  deviceBytes: number;
  /** The header words as stored (all zero for a new COW). */
  header: Header;
  state: CowState;
  /** Chunk size in effect, in sectors (the table's for a new COW). */
  chunkSize: number;
  exceptionsPerArea: number;
  /** Exceptions in on-disk order; empty unless valid (or read with `readInvalid`), and empty when read with `keepEntries: false`. */
  exceptions: ExceptionTable;
  /** How many exceptions were loaded (also when they were not kept). */
  exceptionCount: number;
  /** The area commits go to next: the first area that is not full. */
  currentArea: number;
  /** Entries already in the current area (index of its terminator). */
  currentIndex: number;
  /** Next chunk the store would hand out. */
  nextFree: number;
  usage: Usage;
  /** True when the table gave a chunk size and the header overrode it. */
  chunkSizeOverridden: boolean;
}

export interface ReadRequest {
  offset: number;
  length: number;
  area: number;
}

export class Activation {
  private header: Header | undefined;
  private state: CowState = "new";
  private chunkSize = 0;
  private perArea = 0;
  private readonly table = new ExceptionTable(0);
  private area = 0;
  private index = 0;
  /** Entry index within the current area where the next piece starts. */
  private pieceStart = 0;
  private loadedCount = 0;
  private maxNew = -1;
  private done = false;
  private overridden = false;

  constructor(
    readonly deviceBytes: number,
    private readonly options: ActivationOptions = {},
  ) {}

  /** The chunk size in effect once the header is accepted (sectors). */
  get chunkSizeInEffect(): number {
    return this.chunkSize;
  }

  /** The bytes to read first: the header. */
  headerRequest(): ReadRequest {
    const table = this.options.tableChunkSize;
    if (table !== undefined && table !== 0) {
      // The kernel checks the table's chunk size when it parses the table,
      // before it touches the device (so even a tiny device gets
      // INVALID_CHUNK_SIZE), and reads the header as a whole chunk of that size.
      this.requireChunkSize(table, "table");
      if (this.deviceBytes < chunkBytes(table)) {
        throw new FormatError(ErrorCode.Truncated, `the kernel reads the header as one ${table}-sector chunk (the table's chunk size), but the device is only ${this.deviceBytes} bytes`, { chunk: 0 });
      }
    }
    if (this.deviceBytes < Math.max(HEADER_SIZE, SECTOR_SIZE)) {
      throw new FormatError(ErrorCode.Truncated, `the device is ${this.deviceBytes} bytes, too small to hold a header sector; is this the right file?`, { chunk: 0 });
    }
    return { offset: 0, length: HEADER_SIZE, area: -1 };
  }

  acceptHeader(bytes: Uint8Array): void {
    const h = decodeHeader(bytes);
    this.header = h;
    const lbs = this.options.logicalBlockSize ?? SECTOR_SIZE;
    const table = this.options.tableChunkSize;
    if (h.magic === 0) {
      this.state = "new";
      this.chunkSize = table === undefined || table === 0 ? defaultChunkSize(lbs) : table;
      this.requireChunkSize(this.chunkSize, "table");
      this.perArea = exceptionsPerArea(this.chunkSize);
      // The kernel writes the header and zeroes area 0: both chunks must exist.
      this.requireChunks(2, "a new snapshot writes its header and area 0");
      this.done = true;
      return;
    }
    if (h.magic !== SNAP_MAGIC) {
      throw new FormatError(
        ErrorCode.BadMagic,
        badMagicMessage(h.magic, bytes),
        { chunk: 0, byteOffset: 0 },
      );
    }
    this.overridden = table !== undefined && table !== 0 && table !== h.chunkSize;
    this.chunkSize = h.chunkSize;
    this.requireChunkSize(h.chunkSize, "on-disk");
    if (h.version !== DISK_VERSION) {
      throw new FormatError(
        ErrorCode.UnsupportedVersion,
        `header version is ${h.version}; only version ${DISK_VERSION} exists, so the header is damaged or from an unknown tool; 'dmsnap check' shows the rest of the metadata`,
        { chunk: 0, byteOffset: 8 },
      );
    }
    this.perArea = exceptionsPerArea(this.chunkSize);
    if (h.valid === 0) {
      this.state = "invalid";
      if (!this.options.readInvalid) {
        this.done = true;
        return;
      }
    } else {
      this.state = "valid";
    }
    // Size the table once for the most the device can hold (capped): growing
    // it by copying costs more than decoding the entries.
    if (this.options.keepEntries !== false) this.table.reserve(this.options.reserveEntries ?? Math.min(capacity(this.chunkSize, deviceSectors(this.deviceBytes)).dataChunks, INITIAL_TABLE_CAP));
  }

  /** The header acceptHeader decoded (check --header-only reads nothing more). */
  headerSeen(): Header {
    if (!this.header) throw new Error("no header accepted yet");
    return this.header;
  }

  /** The next metadata area to read, or null when activation is complete. */
  nextRead(): ReadRequest | null {
    if (this.done) return null;
    const location = areaLocation(this.chunkSize, this.area);
    const bytes = chunkBytes(this.chunkSize);
    if (this.pieceStart > 0) {
      const at = entryOffset(this.pieceStart);
      return { offset: chunkOffset(this.chunkSize, location) + at, length: Math.min(AREA_READ_PIECE, bytes - at), area: this.area };
    }
    if (location + 1 > chunksInDevice(this.chunkSize, this.deviceBytes)) {
      throw new FormatError(
        ErrorCode.Truncated,
        this.area === 0
          ? `metadata area 0 (chunk 1) lies beyond the end of the ${this.deviceBytes}-byte device; the device is truncated or the chunk size (${this.chunkSize} sectors) is wrong`
          : `area ${this.area - 1} is full, so the kernel reads area ${this.area} at chunk ${location}, which lies beyond the end of the ${this.deviceBytes}-byte device; the device was truncated or the store filled it without room for the terminating area`,
        { area: this.area, chunk: location },
      );
    }
    return { offset: chunkOffset(this.chunkSize, location), length: Math.min(AREA_READ_PIECE, bytes), area: this.area };
  }

  /** Takes the bytes asked for by nextRead (one piece of an area). */
  acceptArea(bytes: Uint8Array): void {
    const count = entriesIn(Math.min(bytes.length, chunkBytes(this.chunkSize) - entryOffset(this.pieceStart)));
    const keep = this.options.keepEntries !== false;
    let r: EntriesDecodeResult;
    if (!keep && !this.options.onEntries) {
      // Nothing needs the entries in a table: find the terminator and the highest new_chunk in place.
      r = scanEntries(bytes, count, this.area, this.pieceStart);
      if (r.loaded > 0) this.options.onPiece?.(bytes, r.loaded);
    } else {
      if (!keep) this.table.count = 0;
      const from = this.table.count;
      r = decodeEntriesInto(bytes, count, this.table, this.area, this.pieceStart);
      if (r.loaded > 0) this.options.onEntries?.(this.table, from, r.loaded);
    }
    this.loadedCount += r.loaded;
    if (r.maxNewChunk > this.maxNew) this.maxNew = r.maxNewChunk;
    if (r.terminated) {
      this.index = this.pieceStart + r.loaded;
      this.done = true;
      return;
    }
    this.pieceStart += count;
    if (this.pieceStart >= this.perArea) {
      this.pieceStart = 0;
      this.area++;
    }
  }

  result(): CowImage {
    if (!this.header || !this.done) throw new Error("activation is not complete");
    if (this.options.keepEntries === false) this.table.count = 0;
    const nextFree = nextFreeAfterLoad(this.chunkSize, this.maxNew);
    if (chunkSectors(this.chunkSize, nextFree) > MAX_CHUNK_NUMBER) {
      // The kernel would carry on with a 64-bit counter; we cannot count it exactly.
      throw new FormatError(
        ErrorCode.ChunkNumberTooLarge,
        `the highest new_chunk (${this.maxNew}) puts the free cursor at sector ${nextFree} * ${this.chunkSize}, beyond 2^53; dmsnap counts sectors below 2^53, and no real device is that large, so the entry is corrupt — run 'dmsnap check' to find it`,
        {},
      );
    }
    return {
      deviceBytes: this.deviceBytes,
      header: this.header,
      state: this.state,
      chunkSize: this.chunkSize,
      exceptionsPerArea: this.perArea,
      exceptions: this.table,
      exceptionCount: this.loadedCount,
      currentArea: this.area,
      currentIndex: this.index,
      nextFree,
      usage: usage(this.chunkSize, nextFree, this.area, deviceSectors(this.deviceBytes)),
      chunkSizeOverridden: this.overridden,
    };
  }

  private requireChunkSize(chunkSize: number, which: string): void {
    const problem = chunkSizeProblem(chunkSize, this.options.logicalBlockSize ?? SECTOR_SIZE);
    if (problem !== null) {
      // Fine on 512-byte blocks: the header is intact, the device's blocks are larger (a 4Kn disk, a loop device with --sector-size 4096).
      const onlyTheBlockSize = chunkSizeProblem(chunkSize) === null;
      const next = onlyTheBlockSize
        ? "; the kernel refuses it on this device; use the COW on a file or a device with 512-byte logical blocks (or a chunk size that is a multiple of the block size)"
        : "; the header is damaged (the 2009 invalidation race left chunk size 0 this way); 'dmsnap repair' infers the chunk size from the metadata";
      throw new FormatError(
        ErrorCode.InvalidChunkSize,
        `${which} ${problem}${which === "on-disk" ? next : ""}`,
        which === "on-disk" ? { chunk: 0, byteOffset: 12 } : {},
      );
    }
  }

  private requireChunks(count: number, why: string): void {
    if (chunksInDevice(this.chunkSize, this.deviceBytes) < count) {
      throw new FormatError(ErrorCode.Truncated, `${why}, so it needs ${count} chunks of ${this.chunkSize} sectors, but the device is only ${this.deviceBytes} bytes`, {});
    }
  }
}

/** Reads a COW device exactly as the kernel's activation does. Throws FormatError on refusal. */
export function decodeCow(reader: SyncReader, options: ActivationOptions = {}): CowImage {
  const a = new Activation(reader.size, options);
  const h = a.headerRequest();
  a.acceptHeader(reader.read(h.offset, h.length));
  for (let r = a.nextRead(); r !== null; r = a.nextRead()) a.acceptArea(reader.read(r.offset, r.length));
  return a.result();
}

/** decodeCow over an asynchronous reader. */
export async function decodeCowAsync(reader: AsyncReader, options: ActivationOptions = {}): Promise<CowImage> {
  const a = new Activation(reader.size, options);
  const h = a.headerRequest();
  a.acceptHeader(await reader.read(h.offset, h.length));
  for (let r = a.nextRead(); r !== null; r = a.nextRead()) a.acceptArea(await reader.read(r.offset, r.length));
  return a.result();
}

/**
 * BAD_MAGIC's message: the magic in hex and as text, and a compressed file
 * named as one (all their signatures lie in the first 16 bytes). Repair is not
 * promised here: whether it finds anything takes a salvage, which 'dmsnap
 * check' runs.
 */
export function badMagicMessage(magic: number, header: Uint8Array): string {
  const sig = sniffSignature(header);
  const what = sig?.decompress
    ? `it is ${sig.name} (${sig.evidence}): ${sig.decompress} it first and give dmsnap the image inside`
    : `this is not a snapshot COW device, or its header was overwritten${sig ? ` (it looks like ${sig.name}: ${sig.evidence} at byte ${sig.offset})` : ""}; 'dmsnap check' says whether 'dmsnap repair' finds exceptions to salvage`;
  return `header magic is 0x${magic.toString(16).padStart(8, "0")} (${magicText(header)}), not 0x70416e53 ("SnAp") or 0 (blank): ${what}`;
}
