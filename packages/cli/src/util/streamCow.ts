/**
 * Streaming reads of a COW: activation without keeping the exceptions, so
 * dump, usage and lossless dump run in constant memory (one 1 MiB area piece
 * and one batch of output) whatever the exception count. Each pass re-reads
 * the metadata; a refusal is always found by a first pass before any output.
 */
import { decodeCow, type ActivationOptions, type CowImage, type ExceptionTable, type SyncReader } from "@dmsnap/format";

/** The image's summary (counts, cursors, usage) without its exceptions. */
export function scanCow(reader: SyncReader, options: ActivationOptions = {}): CowImage {
  return decodeCow(reader, { ...options, keepEntries: false });
}

/** Calls `visit` with each batch of loaded entries, in on-disk order: rows [from, from + count) of `table`. */
export function forEachEntry(reader: SyncReader, options: ActivationOptions, visit: (table: ExceptionTable, from: number, count: number) => void): CowImage {
  return decodeCow(reader, { ...options, keepEntries: false, onEntries: visit });
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
