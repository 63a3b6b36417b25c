/**
 * The lossless dump: CowMetadata as JSON (`dmsnap dump --lossless` writes it,
 * `dmsnap restore` reads it back). It holds everything needed to rebuild the
 * metadata chunks byte for byte as the kernel lays them out: the device size,
 * the four header words and the entries in on-disk order. Bytes after a
 * terminator (stale entries) are not part of the layout and are not kept.
 *
 * Both directions stream: the writer emits one line per entry as batches
 * arrive, the reader tokenises the bytes a piece at a time. No I/O here: the
 * writer calls `write`, the reader reads a SyncReader (the CLI's is a file).
 */
import { chunkSizeProblem } from "./chunkSize.js";
import { DISK_VERSION, MAX_CHUNK_NUMBER, SECTOR_SIZE, SNAP_MAGIC } from "./constants.js";
import type { CowMetadata, EntryBatch } from "./cowMetadata.js";
import { DumpSyntaxError, DumpTokenizer, type DumpRoot } from "./dumpTokenizer.js";
import { ErrorCode, FormatError } from "./errors.js";
import { ExceptionTable } from "./exceptionTable.js";
import type { Header } from "./header.js";
import { chunkSectors, chunksInDevice, lastAreaLocation, nextFreeAfterLoad, roomForEntries } from "./layout.js";
import { bytesReader, type SyncReader } from "./reader.js";

export const DUMP_FORMAT = "dmsnap-dump";
export const DUMP_VERSION = 1;

/** Bytes read from the source at a time. */
const READ_PIECE = 1 << 20;
/** Output lines joined into one `write` call. */
const LINES_PER_WRITE = 8192;

/** Writes `m` as a lossless dump: one object, one exception per line, emitted as the batches arrive (never one huge string). */
export function writeLosslessDump(m: CowMetadata, write: (s: string) => void): void {
  const h = m.header;
  write(`{"format":"${DUMP_FORMAT}","version":${DUMP_VERSION},"deviceBytes":${m.deviceBytes},"header":{"magic":${h.magic},"valid":${h.valid},"version":${h.version},"chunkSize":${h.chunkSize}},"exceptions":[`);
  let n = 0;
  let parts: string[] = [];
  for (const { table, from, count } of m.batches()) {
    const { oldChunk, newChunk } = table;
    for (let i = from; i < from + count; i++) {
      parts.push(`${n++ === 0 ? "" : ","}\n[${oldChunk[i]},${newChunk[i]}]`);
      if (parts.length === LINES_PER_WRITE) {
        write(parts.join(""));
        parts = [];
      }
    }
  }
  if (parts.length) write(parts.join(""));
  write(`${n > 0 ? "\n" : ""}]}\n`);
}

function bad(message: string): FormatError {
  return new FormatError(ErrorCode.DumpInvalid, `${message}; give a file written by 'dmsnap dump --lossless'`);
}

const isU32 = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
const isChunk = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Checks everything but the exceptions; returns the device size and header. */
function checkHead(o: Record<string, unknown>): { deviceBytes: number; header: Header } {
  if (o.format !== DUMP_FORMAT) throw bad(`the dump's "format" is ${JSON.stringify(o.format)}, not "${DUMP_FORMAT}" (a 'dump --json' object is a view, not a lossless dump)`);
  if (o.version !== DUMP_VERSION) throw bad(`dump version ${JSON.stringify(o.version)} is not supported (only ${DUMP_VERSION})`);
  if (!isChunk(o.deviceBytes) || o.deviceBytes < SECTOR_SIZE) throw bad(`"deviceBytes" must be a whole number of bytes of at least ${SECTOR_SIZE}`);
  const h = o.header as Record<string, unknown> | undefined;
  if (!h || typeof h !== "object" || !isU32(h.magic) || !isU32(h.valid) || !isU32(h.version) || !isU32(h.chunkSize)) throw bad(`"header" must hold magic, valid, version and chunkSize as 32-bit unsigned integers`);
  const header: Header = { magic: h.magic, valid: h.valid, version: h.version, chunkSize: h.chunkSize };
  if (header.magic !== SNAP_MAGIC && header.magic !== 0) throw bad(`header magic 0x${header.magic.toString(16)} is neither "SnAp" nor 0 (blank)`);
  if (header.magic === SNAP_MAGIC) {
    if (header.version !== DISK_VERSION) throw bad(`header version ${header.version} is not ${DISK_VERSION}`);
    const problem = chunkSizeProblem(header.chunkSize);
    if (problem !== null) throw bad(`header ${problem}`);
  }
  return { deviceBytes: o.deviceBytes, header };
}

/** One exception's numbers. */
function checkPair(i: number, p0: unknown, p1: unknown): void {
  if (!isChunk(p0) || !isChunk(p1)) throw bad(`exception ${i} is not a pair of chunk numbers below 2^53`);
  if (p1 === 0) throw bad(`exception ${i} has new_chunk 0, which would end the list`);
}

/**
 * What needs the whole list: room for the areas, and the limit 'dmsnap dump'
 * reads back (the free cursor after the highest new_chunk, in sectors, below
 * 2^53): a restore writes nothing dump would refuse.
 */
function checkLayout(head: { deviceBytes: number; header: Header }, count: number, maxNew: number): void {
  const { header } = head;
  if (header.magic === 0) {
    if (count > 0) throw bad("a blank COW (magic 0) has no exceptions");
    return;
  }
  if (!roomForEntries(header.chunkSize, count, head.deviceBytes)) {
    throw bad(`${count} exceptions need metadata areas up to chunk ${lastAreaLocation(header.chunkSize, count)}, but a ${head.deviceBytes}-byte device has ${chunksInDevice(header.chunkSize, head.deviceBytes)} chunks`);
  }
  if (maxNew >= 0 && chunkSectors(header.chunkSize, nextFreeAfterLoad(header.chunkSize, maxNew)) > MAX_CHUNK_NUMBER) {
    throw bad(`the highest new_chunk (${maxNew}) puts the free cursor beyond sector 2^53, which 'dmsnap dump' cannot read back (CHUNK_NUMBER_TOO_LARGE); no real device has that many chunks, so the entry is corrupt`);
  }
}

/** Tokenises all of `source`, pausing after each piece so the caller can use what it produced. */
function* tokenise(source: SyncReader, tokenizer: DumpTokenizer): Generator<void, DumpRoot, void> {
  try {
    // Each piece starts where the tokenizer stopped (a cut token is read again, not joined).
    for (let at = 0; at < source.size; at = tokenizer.consumed) {
      const n = Math.min(READ_PIECE, source.size - at);
      tokenizer.pushAgain(source.read(at, n));
      yield;
      if (at + n === source.size) break;
    }
    return tokenizer.end();
  } catch (e) {
    if (e instanceof DumpSyntaxError) throw bad(`the dump is not JSON (${e.message})`);
    throw e;
  }
}

/**
 * Reads a lossless dump in constant memory. A first pass checks all of it
 * (FormatError DUMP_INVALID with the reason, so nothing is written for a dump
 * that would be refused); each `batches()` parses it again, handing the
 * entries over a piece of input at a time. `source` must not change between
 * the passes (the CLI holds a shared lock on the file).
 */
export function readLosslessDump(source: SyncReader): CowMetadata {
  let count = 0;
  let maxNew = -1;
  const first = tokenise(
    source,
    new DumpTokenizer({
      onPair(i, a, b) {
        checkPair(i, a, b);
        if (b > maxNew) maxNew = b;
        count = i + 1;
      },
      onBadPair(i) {
        throw bad(`exception ${i} is not a pair of chunk numbers below 2^53`);
      },
    }),
  );
  let r = first.next();
  while (!r.done) r = first.next();
  const root = r.value;
  const head = checkHead(root.fields);
  if (root.exceptions === null) throw bad(`"exceptions" must be an array of [old_chunk, new_chunk] pairs`);
  checkLayout(head, count, maxNew);
  return {
    ...head,
    exceptionCount: count,
    *batches(): Generator<EntryBatch> {
      const table = new ExceptionTable(1 << 16);
      const again = tokenise(
        source,
        new DumpTokenizer({
          onPair: (_i, a, b) => table.push(a, b),
          onBadPair: (i) => {
            throw bad(`exception ${i} changed while it was being read`);
          },
        }),
      );
      for (;;) {
        const step = again.next();
        if (table.count > 0) yield { table, from: 0, count: table.count };
        table.count = 0;
        if (step.done) return;
      }
    },
  };
}

/** readLosslessDump of a dump held in memory (tests, a browser's file contents). */
export function parseLosslessDump(text: string | Uint8Array): CowMetadata {
  return readLosslessDump(bytesReader(typeof text === "string" ? new TextEncoder().encode(text) : text));
}
