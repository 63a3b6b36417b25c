/**
 * The dm-log-writes log format (as the module documents it), parsed into a
 * typed list of events. Little-endian. Sector 0 is the super block
 * {u64 magic, u64 version, u64 nr_entries, u32 sectorsize}; entries follow
 * from sector 1, each one sector {u64 sector, u64 nr_sectors, u64 flags,
 * u64 data_len} (a mark's text in the rest of that sector), then nr_sectors
 * 512-byte sectors of written data, padded to whole log sectors.
 *
 * Semantics (the module's, CrashMonkey's): plain writes are logged when a
 * later flush covers them, grouped before it; a FUA write is logged when it
 * completes; marks wait with the plain writes. So between two flushes the
 * plain writes are unordered, and a crash may keep any subset of them.
 */
export const LOG_MAGIC = 0x6a736677736872n;
export const LOG_VERSION = 1n;
export const FLAG_FLUSH = 1;
export const FLAG_FUA = 2;
export const FLAG_DISCARD = 4;
export const FLAG_MARK = 8;
export const FLAG_METADATA = 16;
const KNOWN = FLAG_FLUSH | FLAG_FUA | FLAG_DISCARD | FLAG_MARK | FLAG_METADATA;

export type LogEvent =
  /** Data written at `sector` (512-byte units of the logged device). */
  | { kind: "write"; sector: number; data: Uint8Array; preflush: boolean; fua: boolean }
  /** A flush with no data: every write logged before it is durable. */
  | { kind: "flush" }
  /** A discard: the range reads back as zeros (or not: the device chooses). */
  | { kind: "discard"; sector: number; sectors: number }
  | { kind: "mark"; text: string };

export interface WriteLog {
  sectorSize: number;
  events: LogEvent[];
}

export const LogErrorCode = {
  BadMagic: "LOG_BAD_MAGIC",
  BadVersion: "LOG_BAD_VERSION",
  BadSectorSize: "LOG_BAD_SECTOR_SIZE",
  Truncated: "LOG_TRUNCATED",
  UnknownFlags: "LOG_UNKNOWN_FLAGS",
} as const;
export type LogErrorCode = (typeof LogErrorCode)[keyof typeof LogErrorCode];

export class LogError extends Error {
  constructor(
    readonly code: LogErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = "LogError";
  }
}

function u64(v: DataView, at: number, what: string): number {
  const n = v.getBigUint64(at, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new LogError(LogErrorCode.Truncated, `${what} ${n} at byte ${at} is beyond any log this tool reads`);
  return Number(n);
}

/** Parses a whole log device image (or its gunzipped fixture). Never modifies `bytes`. */
export function parseLog(bytes: Uint8Array): WriteLog {
  if (bytes.length < 28) throw new LogError(LogErrorCode.Truncated, `the log is ${bytes.length} bytes, shorter than its 28-byte super block`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = v.getBigUint64(0, true);
  if (magic !== LOG_MAGIC) throw new LogError(LogErrorCode.BadMagic, `super block magic is 0x${magic.toString(16)}, not 0x${LOG_MAGIC.toString(16)}: not a dm-log-writes log (or the device was not torn down, so the super block was never written)`);
  const version = v.getBigUint64(8, true);
  if (version !== LOG_VERSION) throw new LogError(LogErrorCode.BadVersion, `log version ${version}; this parser reads version 1`);
  const count = u64(v, 16, "nr_entries");
  const ss = v.getUint32(24, true);
  if (ss < 512 || ss & (ss - 1)) throw new LogError(LogErrorCode.BadSectorSize, `log sector size ${ss} is not a power of two of at least 512`);
  const events: LogEvent[] = new Array(count);
  let pos = ss;
  for (let i = 0; i < count; i++) {
    if (pos + 32 > bytes.length) throw new LogError(LogErrorCode.Truncated, `entry ${i} of ${count} starts at byte ${pos}, past the end (${bytes.length} bytes)`);
    const sector = u64(v, pos, "sector");
    const sectors = u64(v, pos + 8, "nr_sectors");
    const flags = u64(v, pos + 16, "flags");
    const dataLen = u64(v, pos + 24, "data_len");
    if (flags & ~KNOWN) throw new LogError(LogErrorCode.UnknownFlags, `entry ${i} at byte ${pos} has flags 0x${flags.toString(16)}; known: 0x${KNOWN.toString(16)}`);
    const head = pos;
    pos += ss;
    if (flags & FLAG_MARK) {
      if (32 + dataLen > ss) throw new LogError(LogErrorCode.Truncated, `mark ${i} at byte ${head} says ${dataLen} text bytes, more than its sector holds`);
      events[i] = { kind: "mark", text: new TextDecoder().decode(bytes.subarray(head + 32, head + 32 + dataLen)) };
      continue;
    }
    if (flags & FLAG_DISCARD) {
      events[i] = { kind: "discard", sector, sectors };
      continue;
    }
    const len = sectors * 512;
    if (len === 0) {
      // An empty flush; an empty FUA write orders nothing extra.
      events[i] = { kind: "flush" };
      continue;
    }
    if (pos + len > bytes.length) throw new LogError(LogErrorCode.Truncated, `entry ${i} at byte ${head} carries ${len} data bytes, past the end of the log`);
    events[i] = { kind: "write", sector, data: bytes.slice(pos, pos + len), preflush: (flags & FLAG_FLUSH) !== 0, fua: (flags & FLAG_FUA) !== 0 };
    pos += Math.ceil(len / ss) * ss;
  }
  return { sectorSize: ss, events };
}

/** Encodes events as a log (the tests' hand-made logs, and mutated logs). */
export function encodeLog(events: LogEvent[], sectorSize = 512): Uint8Array {
  let size = sectorSize;
  for (const e of events) size += sectorSize + (e.kind === "write" ? Math.ceil(e.data.length / sectorSize) * sectorSize : 0);
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  v.setBigUint64(0, LOG_MAGIC, true);
  v.setBigUint64(8, LOG_VERSION, true);
  v.setBigUint64(16, BigInt(events.length), true);
  v.setUint32(24, sectorSize, true);
  let pos = sectorSize;
  for (const e of events) {
    let flags = 0;
    let sector = 0;
    let sectors = 0;
    if (e.kind === "write") {
      flags = (e.preflush ? FLAG_FLUSH : 0) | (e.fua ? FLAG_FUA : 0);
      sector = e.sector;
      sectors = e.data.length / 512;
    } else if (e.kind === "flush") flags = FLAG_FLUSH;
    else if (e.kind === "discard") {
      flags = FLAG_DISCARD;
      sector = e.sector;
      sectors = e.sectors;
    } else flags = FLAG_MARK;
    v.setBigUint64(pos, BigInt(sector), true);
    v.setBigUint64(pos + 8, BigInt(sectors), true);
    v.setBigUint64(pos + 16, BigInt(flags), true);
    if (e.kind === "mark") {
      const t = new TextEncoder().encode(e.text);
      v.setBigUint64(pos + 24, BigInt(t.length), true);
      out.set(t, pos + 32);
    }
    pos += sectorSize;
    if (e.kind === "write") {
      out.set(e.data, pos);
      pos += Math.ceil(e.data.length / sectorSize) * sectorSize;
    }
  }
  return out;
}
