/**
 * Writes a large COW as a sparse file without building it in memory: the
 * header, then each metadata area as the store lays it out (entry j of area a
 * maps origin chunk `oldOf(i)` to the j-th data chunk after the area). Our own
 * writer's data (not the kernel's): the layout follows docs/format.md, and the
 * expected values the tests compare with come from these formulas, not from
 * the code under test. Also used by scripts/bench-scale.mjs. Types: sparseCow.d.mts.
 */
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";

/** Layout numbers of a spec (for expected values): { perArea, stride, areas, lastNew, deviceBytes, newOf }. */
export function sparseLayout(spec) {
  const perArea = spec.chunkSize * 32;
  const stride = perArea + 1;
  const newOf = (i) => 1 + Math.floor(i / perArea) * stride + 1 + (i % perArea);
  const lastNew = spec.count > 0 ? newOf(spec.count - 1) : 1;
  // The area after the last written one must exist (it holds the terminator when the last is full).
  const areas = Math.floor(spec.count / perArea) + 1;
  const chunks = Math.max(lastNew + 1, 1 + (areas - 1) * stride + 1) + (spec.freeChunks ?? 0);
  return { perArea, stride, areas, lastNew, deviceBytes: chunks * spec.chunkSize * 512, newOf };
}

export function writeSparseCow(path, spec) {
  const l = sparseLayout(spec);
  const cb = spec.chunkSize * 512;
  const oldOf = spec.oldOf ?? ((i) => spec.count - 1 - i);
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, l.deviceBytes);
    const header = Buffer.alloc(512);
    header.writeUInt32LE(0x70416e53, 0);
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(spec.chunkSize, 12);
    writeSync(fd, header, 0, 512, 0);
    const area = Buffer.alloc(cb);
    const w = new Uint32Array(area.buffer, area.byteOffset, cb / 4);
    for (let a = 0; a < l.areas; a++) {
      w.fill(0);
      const from = a * l.perArea;
      const n = Math.min(l.perArea, spec.count - from);
      for (let j = 0; j < n; j++) {
        const o = oldOf(from + j);
        const nw = l.newOf(from + j);
        w[j * 4] = o >>> 0;
        w[j * 4 + 1] = Math.floor(o / 4294967296);
        w[j * 4 + 2] = nw >>> 0;
        w[j * 4 + 3] = Math.floor(nw / 4294967296);
      }
      if (n > 0) writeSync(fd, area, 0, cb, (1 + a * l.stride) * cb);
    }
  } finally {
    closeSync(fd);
  }
  return l;
}
