/**
 * CowMetadata: the metadata of a COW device as laid out on disk — the device
 * size, the four header words and the entries in on-disk order — and nothing
 * derived from it. It is the one model that dump --lossless writes, restore
 * reads back and writes to a device, and repair builds from salvage.
 *
 * CowImage (activation.ts) is what the kernel derives from the same bytes
 * (state, cursors, usage, refusals). The two are not one type because a
 * CowImage is the kernel's reading — it has no entries for an invalidated COW
 * unless asked, and no form for metadata the kernel refuses — whereas
 * CowMetadata must also carry what salvage recovers from a refused COW.
 * CowMetadata is a view of a CowImage (metadataOfImage); readCowMetadata
 * streams the same view from a device without keeping the entries.
 *
 * Entries are handed over a batch at a time (`batches()`), so a consumer
 * holds one batch, never the whole list: memory stays bounded whatever the
 * exception count. A batch is valid until the next one is asked for.
 */
import { Activation, decodeCow, type ActivationOptions, type CowImage } from "./activation.js";
import { SNAP_MAGIC } from "./constants.js";
import { ExceptionTable } from "./exceptionTable.js";
import { makeHeader, type Header } from "./header.js";
import { areaOfEntry } from "./layout.js";
import type { SyncReader } from "./reader.js";

/** Rows [from, from + count) of `table`. */
export interface EntryBatch {
  table: ExceptionTable;
  from: number;
  count: number;
}

export interface CowMetadata {
  /** Device size in bytes. */
  deviceBytes: number;
  /** The header words (magic 0: a blank COW, which has no entries). */
  header: Header;
  /** How many entries `batches()` hands over in all. */
  exceptionCount: number;
  /** The entries in on-disk order (area a holds entries a*E .. a*E+E-1). May be iterated again. */
  batches(): Iterable<EntryBatch>;
}

/** Metadata whose entries are all in one table. */
export function metadataOfTable(deviceBytes: number, header: Header, table: ExceptionTable): CowMetadata {
  return { deviceBytes, header: { ...header }, exceptionCount: table.count, batches: () => [{ table, from: 0, count: table.count }] };
}

/** The metadata of a decoded image (decode with `readInvalid: true` to keep an invalidated COW's entries). */
export function metadataOfImage(image: CowImage): CowMetadata {
  return metadataOfTable(image.deviceBytes, image.header, image.exceptions);
}

/**
 * The metadata of the device behind `reader`, as activation reads it, without
 * keeping the entries: a first pass finds any refusal (it throws FormatError
 * here, before anything is handed over), and each `batches()` reads the areas
 * again a piece at a time.
 */
export function readCowMetadata(reader: SyncReader, options: ActivationOptions = {}): CowMetadata {
  const streamed: ActivationOptions = { ...options, keepEntries: false };
  const image = decodeCow(reader, streamed);
  return {
    deviceBytes: image.deviceBytes,
    header: { ...image.header },
    exceptionCount: image.exceptionCount,
    *batches() {
      const got: { batch: EntryBatch | null } = { batch: null };
      const a = new Activation(reader.size, { ...streamed, onEntries: (table, from, count) => (got.batch = { table, from, count }) });
      const h = a.headerRequest();
      a.acceptHeader(reader.read(h.offset, h.length));
      for (let r = a.nextRead(); r !== null; r = a.nextRead()) {
        a.acceptArea(reader.read(r.offset, r.length));
        if (got.batch !== null) {
          yield got.batch;
          got.batch = null;
        }
      }
    },
  };
}

/** Salvaged entries re-laid under a fresh header (repair): valid 1, or 0 with `valid: false`. */
export function metadataOfSalvage(found: { chunkSize: number; exceptions: ExceptionTable }, deviceBytes: number, valid = true): CowMetadata {
  return metadataOfTable(deviceBytes, makeHeader(found.chunkSize, valid), found.exceptions);
}

/** How many metadata areas the layout of `m` has (the last one holds the terminator); 0 for a blank COW. */
export function areasOf(m: { header: Header; exceptionCount: number }): number {
  return m.header.magic === SNAP_MAGIC ? areaOfEntry(m.header.chunkSize, m.exceptionCount) + 1 : 0;
}
