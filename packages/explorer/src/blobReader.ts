/**
 * Readers over a Blob (a File from the picker or a drop, or a gunzipped
 * example). Every read is one Blob.slice: the file is never read whole, so a
 * device-sized image costs only the bytes the decoder asks for.
 */
import type { AsyncReader, SyncReader } from "@dmsnap/format";

export function blobReader(blob: Blob): AsyncReader {
  return {
    size: blob.size,
    read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}

/**
 * Activation reads one metadata area at a time, each a fixed stride after the
 * last. A Blob read has a fixed cost (a round trip to the browser's file
 * thread), so once two reads of one length are a stride apart, the next
 * `depth` areas are requested at once. At most `depth` reads are in flight;
 * reads past the end are never started.
 */
export function prefetchingReader(inner: AsyncReader, depth = 16): AsyncReader {
  const pending = new Map<number, { length: number; bytes: Promise<Uint8Array> }>();
  let last = -1;
  let lastLength = -1;
  let stride = 0;
  const start = (offset: number, length: number): Promise<Uint8Array> => inner.read(offset, length);
  return {
    size: inner.size,
    read(offset, length) {
      const hit = pending.get(offset);
      pending.delete(offset);
      const bytes = hit && hit.length === length ? hit.bytes : start(offset, length);
      const s = offset - last;
      if (length === lastLength && s > 0 && s === stride) {
        for (let k = 1; k <= depth; k++) {
          const o = offset + k * s;
          if (o + length > inner.size) break;
          if (!pending.has(o)) pending.set(o, { length, bytes: start(o, length) });
        }
      } else if (length !== lastLength || s !== stride) {
        pending.clear();
      }
      stride = length === lastLength ? s : 0;
      last = offset;
      lastLength = length;
      return bytes;
    },
  };
}

/** Synchronous slices (FileReaderSync exists only in workers): for salvage, which reads synchronously. */
export function blobSyncReader(blob: Blob): SyncReader {
  const fr = new FileReaderSync();
  return {
    size: blob.size,
    read: (offset, length) => new Uint8Array(fr.readAsArrayBuffer(blob.slice(offset, offset + length))),
  };
}
