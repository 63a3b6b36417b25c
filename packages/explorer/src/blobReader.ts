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

/** Synchronous slices (FileReaderSync exists only in workers): for salvage, which reads synchronously. */
export function blobSyncReader(blob: Blob): SyncReader {
  const fr = new FileReaderSync();
  return {
    size: blob.size,
    read: (offset, length) => new Uint8Array(fr.readAsArrayBuffer(blob.slice(offset, offset + length))),
  };
}
