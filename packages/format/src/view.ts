/**
 * The snapshot view in memory, for images small enough to hold whole (readers
 * and checks over test images; the store streams large ones): origin chunk c
 * reads COW chunk new_chunk of the FIRST entry naming c (as Linux 6.1 serves
 * it; 6.12.118 serves the last: docs/format.md, Snapshot view), else the origin; the last chunk may be partial.
 */
import type { CowImage } from "./activation.js";
import { ChunkNumberSet } from "./chunkNumberSet.js";
import { chunkBytes, chunkOffset } from "./layout.js";

export interface SnapshotView {
  /** The view, exactly as long as the origin. */
  view: Uint8Array;
  /** Origin chunks that have an exception (the first entry for each). */
  mapped: ChunkNumberSet;
  /** The first mapping (in entry order) whose COW chunk lies past the COW's end, or null; the missing bytes read as zeros. */
  beyondCow: { oldChunk: number; newChunk: number } | null;
}

export function snapshotView(image: CowImage, origin: Uint8Array, cow: Uint8Array): SnapshotView {
  const cs = image.chunkSize;
  const cb = chunkBytes(cs);
  const { oldChunk, newChunk, count } = image.exceptions;
  const mapped = new ChunkNumberSet(count);
  // a copy: Buffer.prototype.slice (Node) is a view, and the caller's origin must stay unwritten
  const view = new Uint8Array(origin.length);
  view.set(origin);
  let beyondCow: SnapshotView["beyondCow"] = null;
  for (let i = 0; i < count; i++) {
    const o = oldChunk[i]!;
    if (!mapped.add(o)) continue;
    const at = chunkOffset(cs, o);
    if (at >= origin.length) continue;
    const len = Math.min(cb, origin.length - at);
    const from = chunkOffset(cs, newChunk[i]!);
    const part = cow.subarray(Math.min(from, cow.length), Math.min(from + len, cow.length));
    view.set(part, at);
    if (part.length < len) {
      view.fill(0, at + part.length, at + len);
      beyondCow ??= { oldChunk: o, newChunk: newChunk[i]! };
    }
  }
  return { view, mapped, beyondCow };
}
