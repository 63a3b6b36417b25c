// A COW with many exceptions, written by this test's own few lines from
// docs/format.md (not by @dmsnap/format): chunk size 8 sectors (4 KiB), 256
// entries per area, area a at chunk 1 + 257a, entry i maps origin chunk i to
// the i-th data chunk in allocation order. Sparse: only header and areas are
// written, the data chunks are holes.
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";

export const CS = 8;
const CB = CS * 512;
const PER = CB / 16;
const STRIDE = PER + 1;

/** COW chunk of entry i: the data chunks right after its area. */
export const newChunkOf = (i) => 2 + STRIDE * Math.floor(i / PER) + (i % PER);

export function writeSparseCow(path, n, extraChunks = 92) {
  const fd = openSync(path, "w");
  try {
    const header = Buffer.alloc(16);
    header.writeUInt32LE(0x70416e53, 0);
    header.writeUInt32LE(1, 4);
    header.writeUInt32LE(1, 8);
    header.writeUInt32LE(CS, 12);
    writeSync(fd, header, 0, 16, 0);
    const areas = Math.floor(n / PER) + 1; // the last one holds the terminator
    const area = Buffer.alloc(CB);
    for (let a = 0; a < areas; a++) {
      area.fill(0);
      for (let k = 0; k < PER; k++) {
        const i = a * PER + k;
        if (i >= n) break;
        area.writeUInt32LE(i % 2 ** 32, k * 16);
        area.writeUInt32LE(newChunkOf(i), k * 16 + 8);
      }
      writeSync(fd, area, 0, CB, (1 + STRIDE * a) * CB);
    }
    const lastArea = areas - 1;
    const maxNew = newChunkOf(n - 1);
    const chunks = maxNew + 1 + extraChunks;
    ftruncateSync(fd, chunks * CB);
    // dmsetup status, from docs/format.md "Usage and status": allocated = next free chunk * chunk size,
    // metadata = (current area + 2) * chunk size.
    const status = `${(maxNew + 1) * CS}/${chunks * CS} ${(lastArea + 2) * CS}`;
    return { bytes: chunks * CB, status, lastNew: maxNew };
  } finally {
    closeSync(fd);
  }
}
