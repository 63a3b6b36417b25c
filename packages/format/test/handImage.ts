/**
 * Test kit (not exported): COW images written and read BY HAND. The layout is
 * restated here from the kernel's facts, NOT taken from layout.ts, so a test
 * that builds or checks an image with it fails when layout.ts is wrong
 * (scripts/layout-mutant.mjs measures exactly that):
 *
 *   chunk 0 is the header; E = chunkSize * 512 / 16 entries fill one chunk;
 *   metadata area a sits at chunk 1 + a * (E + 1), its E data chunks after it;
 *   an entry is {old_chunk u64 LE, new_chunk u64 LE}; new_chunk 0 ends the list.
 *
 * Kept deliberately naive (DataView, one entry at a time): it is an oracle.
 * It lives outside src/ on purpose: the layout guard (layoutGuard.test.ts)
 * forbids hand-written layout arithmetic in sources, and this file is nothing else.
 */
const SNAP = 0x70416e53;

/** E, entries per area, for `cs`-sector chunks. */
export const handE = (cs: number): number => cs * 32;

/** Chunk number of metadata area `a`. */
export const handAreaChunk = (cs: number, a: number): number => 1 + a * (cs * 32 + 1);

/** The first `count` chunks the kernel hands out from chunk `start`: every chunk that is not an area. */
export function handAllocation(cs: number, count: number, start = 2): number[] {
  const out: number[] = [];
  for (let c = start; out.length < count; c++) if ((c - 1) % (cs * 32 + 1) !== 0) out.push(c);
  return out;
}

export interface HandCow {
  chunkSize: number;
  /** Device size in chunks. */
  chunks: number;
  /** Entries in commit order: [old, new]; a bare old chunk gets the next chunk of handAllocation. */
  entries?: ReadonlyArray<number | readonly [number, number]>;
  /** The four header words (magic, valid, version, chunk_size); default a valid header. */
  header?: readonly [number, number, number, number];
  /** Fills COW chunk `nw` (the copy of origin chunk `old`); default zeros. */
  data?: (old: number, nw: number) => number;
}

function setU64(v: DataView, at: number, x: number): void {
  v.setUint32(at, x % 2 ** 32, true);
  v.setUint32(at + 4, Math.floor(x / 2 ** 32), true);
}

/** An image laid out by hand; returns the bytes and the [old, new] pairs in disk order. */
export function handCow(spec: HandCow): { bytes: Uint8Array; pairs: Array<[number, number]> } {
  const { chunkSize: cs, chunks } = spec;
  const cb = cs * 512;
  const bytes = new Uint8Array(chunks * cb);
  const v = new DataView(bytes.buffer);
  (spec.header ?? [SNAP, 1, 1, cs]).forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  const given = spec.entries ?? [];
  const auto = handAllocation(cs, given.length);
  const pairs = given.map((e, i): [number, number] => (typeof e === "number" ? [e, auto[i]!] : [e[0], e[1]]));
  pairs.forEach(([old, nw], i) => {
    const at = handAreaChunk(cs, Math.floor(i / (cs * 32))) * cb + (i % (cs * 32)) * 16;
    setU64(v, at, old);
    setU64(v, at + 8, nw);
    if (spec.data && nw < chunks) bytes.fill(spec.data(old, nw), nw * cb, (nw + 1) * cb);
  });
  return { bytes, pairs };
}

/** Writes entry `index` of area `a` in place (for damage at a hand-computed offset). */
export function handSetEntry(bytes: Uint8Array, cs: number, a: number, index: number, old: number, nw: number): Uint8Array {
  const out = bytes.slice();
  const v = new DataView(out.buffer);
  const at = handAreaChunk(cs, a) * cs * 512 + index * 16;
  setU64(v, at, old);
  setU64(v, at + 8, nw);
  return out;
}

/**
 * The entries a reader finds, walking areas by hand: every entry up to the
 * first new_chunk 0, going on to the next area only after a full one. No checks.
 */
export function handReadAreas(bytes: Uint8Array, cs: number): Array<[number, number]> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const cb = cs * 512;
  const out: Array<[number, number]> = [];
  for (let a = 0; ; a++) {
    const base = handAreaChunk(cs, a) * cb;
    if (base + cb > bytes.length) return out;
    for (let i = 0; i < cs * 32; i++) {
      const at = base + i * 16;
      const nw = v.getUint32(at + 8, true) + v.getUint32(at + 12, true) * 2 ** 32;
      if (nw === 0) return out;
      out.push([v.getUint32(at, true) + v.getUint32(at + 4, true) * 2 ** 32, nw]);
    }
  }
}

/**
 * The 2009 race by hand: chunk 0 receives the bytes of area `a` (keeping the
 * first `keepWords` header words), as when the header write took the area buffer.
 */
export function handRaceHeader(bytes: Uint8Array, cs: number, a = 0, keepWords = 0): Uint8Array {
  const out = bytes.slice();
  const cb = cs * 512;
  const src = handAreaChunk(cs, a) * cb;
  out.set(bytes.subarray(src + keepWords * 4, src + cb), keepWords * 4);
  return out;
}
