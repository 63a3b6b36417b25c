/**
 * Holes in export's output, as `cp --sparse=auto` keeps them: when the output
 * is a new regular file, it is first given its final size (ftruncate: a hole
 * throughout), and each page (4 KiB, aligned to the output) of the view that
 * is all zeros is not written, so it stays a hole. A 1 GiB origin with a few
 * MiB of data exports to a file of a few MiB allocated, not 1 GiB.
 *
 * Only writes into ranges this export never wrote before may skip zeros: the
 * origin-order stream (each byte written once) and the streamed origin copy.
 * The COW overlay always writes its chunks, zeros included, since it writes
 * over the origin's bytes.
 */
import { fstatSync, ftruncateSync } from "node:fs";
import { sectorBytes } from "@dmsnap/format";
import type { PositionedWrite } from "./exportOverlay.js";

/** The granularity of the holes: the page and usual file system block. */
export const HOLE_PAGE = 4096;

const ZERO_PAGE = Buffer.alloc(HOLE_PAGE);

/**
 * True when the output can keep holes: a regular file that is still empty (a
 * new file or a temporary). It is then extended to `total` bytes, all holes.
 * A block device, a pipe-like sink or a file that already holds bytes is
 * written whole (a skipped write would leave its old bytes there).
 */
export function prepareSparseOutput(fd: number | undefined, total: number): boolean {
  if (fd === undefined) return false;
  const st = fstatSync(fd);
  if (!st.isFile() || st.size !== 0) return false;
  ftruncateSync(fd, total);
  return true;
}

/**
 * True when a regular file has fewer blocks allocated than its size needs
 * (cp's test for a sparse source): the kernel copy would fill its holes on
 * file systems that cannot share extents, so export streams it instead.
 */
export function looksSparse(fd: number): boolean {
  const st = fstatSync(fd);
  return st.isFile() && sectorBytes(st.blocks) < st.size; // st_blocks counts 512-byte units
}

/** True when buffer[from, to) is all zeros (to - from <= HOLE_PAGE): a native memcmp against a page of zeros, with offsets rather than a view per page. */
function zeroRange(buffer: Uint8Array, from: number, to: number): boolean {
  return ZERO_PAGE.compare(buffer, from, to, 0, to - from) === 0;
}

/**
 * Wraps a blocking write (the descriptor's): each run of non-zero pages is
 * written in one call, pages of zeros are skipped. Pages are aligned to the
 * output's offsets, so a hole covers whole file system blocks.
 */
export function skipZeroPages(write: (buffer: Uint8Array, offset: number, length: number, position: number) => void): PositionedWrite {
  return (buffer, offset, length, position) => {
    const end = offset + length;
    let run = -1; // buffer offset where the current run of non-zero pages starts
    for (let at = offset; at < end; ) {
      const next = Math.min(end, at + HOLE_PAGE - ((position + at - offset) % HOLE_PAGE));
      if (zeroRange(buffer, at, next)) {
        if (run >= 0) write(buffer, run, at - run, position + run - offset);
        run = -1;
      } else if (run < 0) {
        run = at;
      }
      at = next;
    }
    if (run >= 0) write(buffer, run, end - run, position + run - offset);
  };
}
