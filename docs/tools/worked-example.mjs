#!/usr/bin/env node
// Regenerates the worked example at the end of docs/format.md.
//
//   cd /work/main && pnpm -r --filter @dmsnap/format build
//   node docs/tools/worked-example.mjs [image-path]
//
// Builds a small COW image with our own builder (not the kernel), writes it to
// image-path (default: worked-example.img in the OS temp folder) and prints an
// `xxd -g 1`-style dump of the interesting 16-byte rows, eliding runs of rows
// in the middle of each region. Check the output against the real tool with
//   xxd -g 1 -s <offset> -l <length> <image-path>
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesReader, decodeCow, toDumpObject } from "../../packages/format/dist/index.js";
import { buildCow } from "../../packages/format/dist/testing.js";

const CHUNK_SIZE = 1; // sectors: 512-byte chunks, 32 entries per area
const COUNT = 34; // fills area 0 (32 entries) and puts 2 in area 1
const DEVICE_CHUNKS = 128; // 64 KiB device
const FIRST_OLD = 4096; // origin chunks 4096, 4097, ... (0x1000, 0x1001, ...)

const path = process.argv[2] ?? join(tmpdir(), "worked-example.img");
const olds = Array.from({ length: COUNT }, (_, i) => FIRST_OLD + i);
// Each data chunk holds a label standing in for the origin data copied into it.
const label = (o) => new TextEncoder().encode(`origin ${o} `.repeat(64));
const { bytes } = buildCow({ chunkSize: CHUNK_SIZE, exceptions: olds, deviceChunks: DEVICE_CHUNKS, chunkData: (o) => label(o) });
writeFileSync(path, bytes);

/** One xxd -g 1 line for the 16 bytes at `offset`. */
function row(offset) {
  const b = bytes.subarray(offset, offset + 16);
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
  const ascii = Array.from(b, (x) => (x >= 0x20 && x < 0x7f ? String.fromCharCode(x) : ".")).join("");
  return `${offset.toString(16).padStart(8, "0")}: ${hex}  ${ascii}`;
}

/** Rows [from, to) of a region, keeping the first `head` and last `tail` and eliding the rest. */
function region(title, start, length, head, tail) {
  const rows = [];
  for (let o = start; o < start + length; o += 16) rows.push(o);
  const out = [`-- ${title}`];
  if (rows.length <= head + tail) {
    for (const o of rows) out.push(row(o));
  } else {
    for (const o of rows.slice(0, head)) out.push(row(o));
    const skipped = rows.length - head - tail;
    const last = rows[rows.length - tail - 1] + 15;
    out.push(`   ... ${skipped} rows elided (bytes 0x${rows[head].toString(16)}..0x${last.toString(16)}, all as described in the text) ...`);
    for (const o of rows.slice(rows.length - tail)) out.push(row(o));
  }
  return out.join("\n");
}

const cb = CHUNK_SIZE * 512;
console.log(`image: ${path} (${bytes.length} bytes, ${bytes.length / 512} sectors, chunk size ${CHUNK_SIZE})`);
console.log(region("chunk 0: header", 0 * cb, cb, 2, 1));
console.log(region("chunk 1: metadata area 0 (entries 0..31)", 1 * cb, cb, 3, 2));
console.log(region("chunk 2: first data chunk (holds the copy of origin chunk 4096)", 2 * cb, cb, 1, 0));
console.log(region("chunk 33: last data chunk of area 0", 33 * cb, cb, 1, 0));
console.log(region("chunk 34: metadata area 1 (entries 0..1, then the terminator)", 34 * cb, cb, 4, 1));
console.log(region("chunk 67: metadata area 2 (never written: zeros)", 67 * cb, cb, 1, 0));
console.log("-- dmsnap dump --json of this image");
console.log(JSON.stringify(toDumpObject(decodeCow(bytesReader(bytes)))));
