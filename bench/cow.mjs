/**
 * Fast generators for benchmark images: layouts written by dmsnap's builder
 * (our own writer, not the kernel). Metadata areas are written directly, one
 * pwrite per area, into sparse files; data chunks only when asked. The layout
 * is the format's own (docs/format.md), restated here so that the images do
 * not depend on the code under test: header in chunk 0, area a in chunk
 * 1 + a * (E + 1) with E = 32 * chunkSize entries of 16 bytes (old, new; u64
 * little-endian), its data chunks right after it in commit order.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";

/** A small seeded generator (mulberry32), so every run benches the same images. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The origin chunks that hold an exception, in commit order: about `fraction`
 * of `originChunks` (exactly `count` when given, and then as many as fit).
 * "random": the order random origin writes leave (each new exception takes
 * the next COW chunk, so COW order is a random permutation of origin order,
 * as in the kernel cases' mixed random runs); "sequential": ascending.
 */
export function layout(kind, { originChunks, fraction = 1, count, seed = 15 }) {
  const r = rng(seed);
  const want = count ?? Math.round(originChunks * fraction);
  const olds = new Uint32Array(Math.min(want, originChunks));
  let n = 0;
  // Selection sampling: each chunk is taken with probability (needed / left), so exactly `want` are.
  for (let c = 0; c < originChunks && n < olds.length; c++) {
    if (r() * (originChunks - c) < olds.length - n) olds[n++] = c;
  }
  if (kind === "random") {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      const t = olds[i];
      olds[i] = olds[j];
      olds[j] = t;
    }
  } else if (kind !== "sequential") throw new Error(`unknown layout ${kind}`);
  return olds;
}

/** Where things are for `count` exceptions of a chunk size (the format's layout, restated). */
export function geometry(chunkSize, count) {
  const perArea = chunkSize * 32;
  const stride = perArea + 1;
  const areas = Math.floor(count / perArea) + 1; // the area after a full last one holds the terminator
  const newOf = (i) => 1 + Math.floor(i / perArea) * stride + 1 + (i % perArea);
  const lastChunk = Math.max(count > 0 ? newOf(count - 1) : 0, 1 + (areas - 1) * stride);
  return { perArea, stride, areas, newOf, chunks: lastChunk + 1, chunkBytes: chunkSize * 512 };
}

/**
 * Writes a COW holding `olds` (origin chunks in commit order) as a sparse
 * file. `data`: a chunk-sized pattern written into every data chunk (so that
 * reads of them hit real blocks), or omitted (data chunks stay holes).
 * Returns the geometry and the device size in bytes.
 */
export function writeCow(path, { chunkSize, olds, data, extraChunks = 0 }) {
  const g = geometry(chunkSize, olds.length);
  const cb = g.chunkBytes;
  const deviceBytes = (g.chunks + extraChunks) * cb;
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, deviceBytes);
    const header = Buffer.alloc(512);
    header.writeUInt32LE(0x70416e53, 0); // "SnAp"
    header.writeUInt32LE(1, 4); // valid
    header.writeUInt32LE(1, 8); // version
    header.writeUInt32LE(chunkSize, 12);
    writeSync(fd, header, 0, 512, 0);
    const area = Buffer.alloc(cb);
    const w = new Uint32Array(area.buffer, area.byteOffset, cb / 4);
    const run = data ? Buffer.alloc(cb * g.perArea) : null;
    if (run) for (let j = 0; j < g.perArea; j++) run.set(data.subarray(0, cb), j * cb);
    for (let a = 0; a < g.areas; a++) {
      const from = a * g.perArea;
      const n = Math.min(g.perArea, olds.length - from);
      if (n <= 0) break; // the terminating area stays a hole: zeros
      w.fill(0);
      for (let j = 0; j < n; j++) {
        const o = olds[from + j];
        const nw = g.newOf(from + j);
        w[j * 4] = o >>> 0;
        w[j * 4 + 1] = Math.floor(o / 4294967296);
        w[j * 4 + 2] = nw >>> 0;
        w[j * 4 + 3] = Math.floor(nw / 4294967296);
      }
      const at = (1 + a * g.stride) * cb;
      writeSync(fd, area, 0, cb, at);
      if (run) writeSync(fd, run, 0, n * cb, at + cb);
    }
  } finally {
    closeSync(fd);
  }
  return { ...g, deviceBytes, count: olds.length };
}

/** An origin of `bytes` bytes: real data (a pattern, every block allocated) or a sparse file. */
export function writeOrigin(path, bytes, { sparse = false } = {}) {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, bytes);
    if (sparse) return;
    const block = Buffer.alloc(1 << 20);
    for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
    for (let pos = 0; pos < bytes; pos += block.length) writeSync(fd, block, 0, Math.min(block.length, bytes - pos), pos);
  } finally {
    closeSync(fd);
  }
}

/** A chunk-sized data pattern, different from the origin's (so a wrong export would show). */
export function chunkPattern(chunkSize) {
  const b = Buffer.alloc(chunkSize * 512);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 0x5a) & 0xff;
  return b;
}
