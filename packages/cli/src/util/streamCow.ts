/**
 * Streaming reads of a COW: activation without keeping the exceptions, so
 * dump, usage and lossless dump run in constant memory (one 1 MiB area piece
 * and one batch of output) whatever the exception count. Each pass re-reads
 * the metadata; a refusal is always found by a first pass before any output.
 */
import { AREA_READ_PIECE, decodeCow, type ActivationOptions, type CowImage, type ExceptionTable, type SyncReader } from "@dmsnap/format";
import { readFully } from "./inputs.js";

/** The image's summary (counts, cursors, usage) without its exceptions. */
export function scanCow(reader: SyncReader, options: ActivationOptions = {}): CowImage {
  return decodeCow(pieceReader(reader), { ...options, keepEntries: false });
}

/** Calls `visit` with each batch of loaded entries, in on-disk order: rows [from, from + count) of `table`. */
export function forEachEntry(reader: SyncReader, options: ActivationOptions, visit: (table: ExceptionTable, from: number, count: number) => void): CowImage {
  return decodeCow(pieceReader(reader), { ...options, keepEntries: false, onEntries: visit });
}

/**
 * Calls `visit` with each piece of metadata read and how many loaded entries
 * it holds (its first `count` entries, 16 bytes each, checked by activation),
 * in on-disk order. The bytes are valid only during the call.
 */
export function forEachPiece(reader: SyncReader, options: ActivationOptions, visit: (bytes: Uint8Array, count: number) => void): CowImage {
  return decodeCow(pieceReader(reader), { ...options, keepEntries: false, onPiece: visit });
}

/** How many entries activation loads, or undefined when it refuses the image (the caller's own pass reports why). */
export function countEntries(reader: SyncReader, options: ActivationOptions = {}): number | undefined {
  try {
    return scanCow(reader, options).exceptionCount;
  } catch (e) {
    if ((e as { name?: string }).name === "FormatError") return undefined;
    throw e;
  }
}

/**
 * A reader of an open file that reads every piece into one reused 1 MiB
 * buffer: a 16 M-exception COW with 4 KiB chunks is 65,537 area reads, and a
 * fresh buffer for each costs more than decoding it. The bytes returned are
 * valid until the next read, which suits activation and the checker's scans
 * (they decode or test a piece and drop it). Other readers pass through.
 */
export function pieceReader(reader: SyncReader & { fd?: number; path?: string }): SyncReader {
  const fd = reader.fd;
  if (typeof fd !== "number") return reader;
  const path = reader.path ?? "input";
  let buf = new Uint8Array(0);
  return {
    size: reader.size,
    read(offset: number, length: number): Uint8Array {
      if (length > AREA_READ_PIECE) return reader.read(offset, length);
      if (buf.length < length) buf = new Uint8Array(Math.min(AREA_READ_PIECE, Math.max(length, 4096)));
      const done = readFully(fd, buf, length, offset, path);
      if (done < length) buf.fill(0, done, length);
      return buf.subarray(0, length);
    },
  };
}
