// The I/O floor of check/map/usage: a process that only reads the metadata
// areas (one pread per area, a sum over the words, stop at the terminator).
// Not a decoder: no validation, no output. Usage: node read_areas.mjs COW
import { openSync, readSync } from "node:fs";

const fd = openSync(process.argv[2], "r");
const head = Buffer.alloc(16);
readSync(fd, head, 0, 16, 0);
const cb = head.readUInt32LE(12) * 512;
const perArea = cb / 16;
const buf = Buffer.alloc(cb);
const w = new Uint32Array(buf.buffer, buf.byteOffset, cb / 4);
let n = 0;
let sum = 0;
for (let a = 0; ; a++) {
  if (readSync(fd, buf, 0, cb, (1 + a * (perArea + 1)) * cb) < cb) break;
  let i = 0;
  for (; i < perArea; i++) {
    if (w[i * 4 + 2] === 0 && w[i * 4 + 3] === 0) break;
    sum = (sum + w[i * 4]) | 0;
  }
  n += i;
  if (i < perArea) break;
}
process.stdout.write(`${n} ${sum}\n`);
