/**
 * The lossless dump (`dmsnap dump --lossless`) and its inverse (`dmsnap
 * restore`), plus the metadata writer `repair` shares with restore.
 *
 * A lossless dump holds everything needed to rebuild the metadata chunks
 * byte-for-byte as the kernel lays them out: the device size, the four header
 * words and the entries in on-disk order. Areas are packed in order (area a
 * holds entries a*E .. a*E+E-1), the first area that is not full ends with a
 * zero entry, and when the last area is exactly full the next one is zeroed.
 * Bytes after a terminator (stale entries) are not part of the layout and are
 * not preserved.
 *
 * restoreToDevice works on any device with the store's BlockDevice shape, so
 * tests can run it on the crash-simulating device. Its write order makes every
 * crash leave either the previous image (before anything is overwritten), a
 * blank COW (magic 0), or the complete restored image, never a mix:
 *   1. if the target's header chunk is not blank: zero it, then flush;
 *   2. write every area chunk, then flush;
 *   3. write the header chunk last, with FUA, then flush.
 */
import {
  areaLocation,
  chunkBytes,
  chunkSizeProblem,
  chunksInDevice,
  encodeArea,
  encodeHeader,
  ExceptionTable,
  exceptionsPerArea,
  HEADER_SIZE,
  SECTOR_SIZE,
  SNAP_MAGIC,
  DISK_VERSION,
  type CowImage,
  type Header,
} from "@dmsnap/format";
import { CliError, Exit } from "./errors.js";
import type { Progress } from "./progress.js";

export const DUMP_FORMAT = "dmsnap-dump";
export const DUMP_VERSION = 1;

export interface LosslessDump {
  format: typeof DUMP_FORMAT;
  version: typeof DUMP_VERSION;
  deviceBytes: number;
  header: Header;
  exceptions: ExceptionTable;
}

/** The device shape restore needs (the store's BlockDevice satisfies it). */
export interface WritableDevice {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array, flags?: { flushBefore?: boolean; fua?: boolean }): Promise<void>;
  flush(): Promise<void>;
}

/** The lossless dump of an image decoded with `readInvalid: true`. */
export function losslessDumpOf(image: CowImage): LosslessDump {
  return { format: DUMP_FORMAT, version: DUMP_VERSION, deviceBytes: image.deviceBytes, header: { ...image.header }, exceptions: image.exceptions };
}

/** Writes the dump as JSON, one exception per line, without building one huge string. */
export function writeLosslessDump(dump: LosslessDump, write: (s: string) => void): void {
  const h = dump.header;
  write(`{"format":"${DUMP_FORMAT}","version":${DUMP_VERSION},"deviceBytes":${dump.deviceBytes},"header":{"magic":${h.magic},"valid":${h.valid},"version":${h.version},"chunkSize":${h.chunkSize}},"exceptions":[`);
  const { oldChunk, newChunk, count } = dump.exceptions;
  const BATCH = 8192;
  for (let from = 0; from < count; from += BATCH) {
    const parts: string[] = [];
    for (let i = from; i < Math.min(count, from + BATCH); i++) parts.push(`${i === 0 ? "" : ","}\n[${oldChunk[i]},${newChunk[i]}]`);
    write(parts.join(""));
  }
  write(`${count > 0 ? "\n" : ""}]}\n`);
}

function bad(message: string): CliError {
  return new CliError("DUMP_INVALID", `${message}; give a file written by 'dmsnap dump --lossless'`, Exit.Image);
}

const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isChunk = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Parses and checks a lossless dump. Throws DUMP_INVALID with the reason. */
export function parseLosslessDump(text: string): LosslessDump {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw bad(`the dump is not JSON (${(e as Error).message})`);
  }
  const o = raw as Record<string, unknown>;
  if (!o || typeof o !== "object") throw bad("the dump is not a JSON object");
  if (o.format !== DUMP_FORMAT) throw bad(`the dump's "format" is ${JSON.stringify(o.format)}, not "${DUMP_FORMAT}" (a 'dump --json' object is a view, not a lossless dump)`);
  if (o.version !== DUMP_VERSION) throw bad(`dump version ${JSON.stringify(o.version)} is not supported (only ${DUMP_VERSION})`);
  if (!isChunk(o.deviceBytes) || o.deviceBytes < SECTOR_SIZE) throw bad(`"deviceBytes" must be a whole number of bytes of at least ${SECTOR_SIZE}`);
  const h = o.header as Record<string, unknown> | undefined;
  if (!h || !isU32(h.magic) || !isU32(h.valid) || !isU32(h.version) || !isU32(h.chunkSize)) throw bad(`"header" must hold magic, valid, version and chunkSize as 32-bit unsigned integers`);
  const header: Header = { magic: h.magic, valid: h.valid, version: h.version, chunkSize: h.chunkSize };
  if (header.magic !== SNAP_MAGIC && header.magic !== 0) throw bad(`header magic 0x${header.magic.toString(16)} is neither "SnAp" nor 0 (blank)`);
  if (header.magic === SNAP_MAGIC) {
    if (header.version !== DISK_VERSION) throw bad(`header version ${header.version} is not ${DISK_VERSION}`);
    const problem = chunkSizeProblem(header.chunkSize);
    if (problem !== null) throw bad(`header ${problem}`);
  }
  if (!Array.isArray(o.exceptions)) throw bad(`"exceptions" must be an array of [old_chunk, new_chunk] pairs`);
  const list = o.exceptions as unknown[];
  if (header.magic === 0 && list.length > 0) throw bad("a blank COW (magic 0) has no exceptions");
  const table = new ExceptionTable(list.length);
  list.forEach((p, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !isChunk(p[0]) || !isChunk(p[1])) throw bad(`exception ${i} is not a pair of chunk numbers below 2^53`);
    if (p[1] === 0) throw bad(`exception ${i} has new_chunk 0, which would end the list`);
    table.push(p[0], p[1]);
  });
  const dump: LosslessDump = { format: DUMP_FORMAT, version: DUMP_VERSION, deviceBytes: o.deviceBytes, header, exceptions: table };
  if (header.magic === SNAP_MAGIC) {
    const last = lastArea(dump);
    const chunks = chunksInDevice(header.chunkSize, dump.deviceBytes);
    if (areaLocation(header.chunkSize, last) >= chunks) {
      throw bad(`${table.count} exceptions need metadata areas up to chunk ${areaLocation(header.chunkSize, last)}, but a ${dump.deviceBytes}-byte device has ${chunks} chunks`);
    }
  }
  return dump;
}

/** The last area written: the one holding the terminator (zeroed when the one before it is exactly full). */
function lastArea(dump: LosslessDump): number {
  return Math.floor(dump.exceptions.count / exceptionsPerArea(dump.header.chunkSize));
}

/** Bytes in the header chunk of this dump (one sector for a blank COW). */
function headerChunkBytes(dump: LosslessDump): number {
  return dump.header.magic === SNAP_MAGIC ? chunkBytes(dump.header.chunkSize) : SECTOR_SIZE;
}

/** Every metadata chunk the kernel's layout holds for this dump, areas first, header last. */
export function* metadataChunks(dump: LosslessDump): Generator<{ offset: number; bytes: Uint8Array; what: string }> {
  const cs = dump.header.chunkSize;
  if (dump.header.magic === SNAP_MAGIC) {
    const perArea = exceptionsPerArea(cs);
    const cb = chunkBytes(cs);
    const last = lastArea(dump);
    for (let a = 0; a <= last; a++) {
      const from = a * perArea;
      const n = Math.min(perArea, dump.exceptions.count - from);
      yield { offset: areaLocation(cs, a) * cb, bytes: encodeArea(dump.exceptions, from, n, cb), what: `area ${a}` };
    }
  }
  yield { offset: 0, bytes: encodeHeader(dump.header, headerChunkBytes(dump)), what: "header" };
}

/** How many areas restore writes (for progress). */
export function areaCount(dump: LosslessDump): number {
  return dump.header.magic === SNAP_MAGIC ? lastArea(dump) + 1 : 0;
}

export interface RestoreOptions {
  /** Overwrite a target whose header is not blank. */
  force?: boolean;
  progress?: Progress;
  /** Label for messages. */
  targetName?: string;
}

export interface RestoreReport {
  overwrote: "blank" | "snapshot" | "other";
  areasWritten: number;
}

/** Rebuilds the metadata of `dump` on `dev` in the crash-safe order described above. */
export async function restoreToDevice(dev: WritableDevice, dump: LosslessDump, options: RestoreOptions = {}): Promise<RestoreReport> {
  const name = options.targetName ?? "the target";
  if (dev.size < dump.deviceBytes) {
    throw new CliError("TARGET_TOO_SMALL", `${name} is ${dev.size} bytes but the dump describes a ${dump.deviceBytes}-byte device; restore onto a device at least that large`, Exit.Image);
  }
  const hcb = headerChunkBytes(dump);
  const head = await dev.read(0, Math.min(dev.size, Math.max(hcb, HEADER_SIZE)));
  const magic = new DataView(head.buffer, head.byteOffset, HEADER_SIZE).getUint32(0, true);
  const overwrote: RestoreReport["overwrote"] = magic === SNAP_MAGIC ? "snapshot" : head.some((b) => b !== 0) ? "other" : "blank";
  if (!options.force && magic === SNAP_MAGIC) {
    throw new CliError("COW_EXISTS", `${name} already holds a snapshot header ("SnAp"); restoring would replace its metadata. Save it first ('dmsnap dump --lossless ${name} > old.json'), then rerun with --force`, Exit.Image);
  }
  if (!options.force && magic !== 0) {
    throw new CliError("TARGET_NOT_BLANK", `${name} starts with magic 0x${magic.toString(16).padStart(8, "0")}, so it holds something other than a blank or snapshot COW; check the path, then rerun with --force to overwrite it`, Exit.Image);
  }
  // 1. Make the target a blank COW before touching any area: a crash from here on leaves it blank.
  if (overwrote !== "blank") {
    await dev.write(0, new Uint8Array(Math.min(hcb, dev.size)));
    await dev.flush();
  }
  // 2. The areas, then a flush so they are durable before the header names them.
  const total = areaCount(dump);
  options.progress?.start("restore", total, "areas");
  let areas = 0;
  let header: Uint8Array | null = null;
  for (const chunk of metadataChunks(dump)) {
    if (chunk.what === "header") {
      header = chunk.bytes;
      continue;
    }
    await dev.write(chunk.offset, chunk.bytes);
    options.progress?.update(++areas);
  }
  await dev.flush();
  // 3. The header last.
  await dev.write(0, header!, { fua: true });
  await dev.flush();
  options.progress?.stop();
  return { overwrote, areasWritten: areas };
}
