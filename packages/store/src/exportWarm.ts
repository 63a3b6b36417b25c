/**
 * Export in origin order (exportStream.ts) reads each COW chunk where its
 * origin chunk falls. When random origin writes filled the COW, the COW
 * chunks of consecutive origin chunks lie anywhere in it, and each is a
 * random read: on a cold cache here, about 50 us per 4 KiB read (79 k chunks
 * of a 1 GiB view: 4 s of a 5 s export), against about 0.4 ms per MiB read in
 * order. So when the view's COW chunks are scattered and the COW's data
 * range fits easily in free memory, that range is first read in order, in
 * 1 MiB reads whose bytes are dropped, and the random reads that follow find
 * it in the page cache. The process keeps no more memory for it (one 1 MiB
 * buffer); the page cache holds the range, which is why it must fit in a
 * quarter of the memory the system reports free.
 */
import { freemem } from "node:os";
import { readSync } from "node:fs";
import { chunkOffset } from "@dmsnap/format";
import { ioError } from "./errors.js";
import type { ViewMap } from "./exportCheck.js";
import type { FileDevice } from "./fileDevice.js";

/** What the map says about the COW chunks of the view, in origin order. */
export interface Scatter {
  /** COW chunks of the view. */
  chunks: number;
  /** Mapped origin chunks whose COW chunk does not follow the previous mapped one's. */
  jumps: number;
  /** The lowest and highest COW chunk the view reads (0 when none). */
  lowest: number;
  highest: number;
}

export function scatterOf(map: ViewMap): Scatter {
  let chunks = 0;
  let jumps = 0;
  let lowest = 0;
  let highest = 0;
  let prev = -1;
  for (let o = 0; o < map.length; o++) {
    const n = map[o]!;
    if (n === 0) continue;
    chunks++;
    if (n !== prev + 1) jumps++;
    prev = n;
    if (lowest === 0 || n < lowest) lowest = n;
    if (n > highest) highest = n;
  }
  return { chunks, jumps, lowest, highest };
}

/** Views with fewer COW bytes than this are read chunk by chunk as they are (a few thousand random reads). */
export const WARM_MIN_BYTES = 16 << 20;

/**
 * Whether to read the COW's data range in order first: the view reads at
 * least WARM_MIN_BYTES from the COW, more than one in 8 of its COW chunks
 * starts a new run (a sequential layout has almost none: the readahead of
 * the reads themselves serves it), and the range is at most a quarter of
 * `freeBytes`.
 */
export function shouldWarm(s: Scatter, chunkBytes: number, freeBytes: number): boolean {
  if (s.chunks === 0) return false;
  const rangeBytes = (s.highest - s.lowest + 1) * chunkBytes;
  return s.chunks * chunkBytes >= WARM_MIN_BYTES && s.jumps * 8 > s.chunks && rangeBytes <= freeBytes / 4;
}

const WARM_READ = 1 << 20;

/**
 * Reads COW chunks lowest..highest in order, dropping the bytes; returns the
 * bytes read. `freeBytes` defaults to os.freemem().
 */
export function warmCow(cow: FileDevice, chunkSize: number, map: ViewMap, chunkBytes: number, freeBytes = freemem()): number {
  const s = scatterOf(map);
  if (!shouldWarm(s, chunkBytes, freeBytes)) return 0;
  const from = chunkOffset(chunkSize, s.lowest);
  const to = Math.min(cow.size, chunkOffset(chunkSize, s.highest + 1));
  const buf = new Uint8Array(Math.min(WARM_READ, Math.max(1, to - from)));
  let pos = from;
  while (pos < to) {
    let n: number;
    try {
      n = readSync(cow.fd, buf, 0, Math.min(buf.length, to - pos), pos);
    } catch (e) {
      throw ioError(e, `reading ${Math.min(buf.length, to - pos)} bytes at offset ${pos} of ${cow.path}`);
    }
    if (n === 0) break;
    pos += n;
  }
  return pos - from;
}
