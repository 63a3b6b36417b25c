#!/usr/bin/env node
// Conformance reader over @dmsnap/format (the codec), speaking the reader
// protocol of docs/conformance.md:
//   reader.mjs dump <cow> [--chunk-size N]            -> dump object, exit 0 / error object, exit 1
//   reader.mjs export <origin> <cow> [--chunk-size N] -> the snapshot view on stdout, exit 0
// Needs packages/format/dist (pnpm build).
import { readFileSync, writeSync } from "node:fs";
import { bytesReader, decodeCow, isFormatError, snapshotView, toDumpError, toDumpObject } from "@dmsnap/format";

function fail(message, code = 2) {
  process.stderr.write(`format reader: ${message}\n`);
  process.exit(code);
}

function parse(argv) {
  const [op, ...rest] = argv;
  const pos = [];
  let chunkSize;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--chunk-size") chunkSize = Number(rest[++i]);
    else pos.push(rest[i]);
  }
  if (chunkSize !== undefined && !Number.isInteger(chunkSize)) fail("--chunk-size takes an integer");
  return { op, pos, options: chunkSize ? { tableChunkSize: chunkSize } : {} };
}

function decode(path, options) {
  const bytes = new Uint8Array(readFileSync(path));
  try {
    return { bytes, image: decodeCow(bytesReader(bytes), options) };
  } catch (e) {
    if (isFormatError(e)) {
      process.stdout.write(`${JSON.stringify(toDumpError(e))}\n`);
      process.exit(1);
    }
    throw e;
  }
}

function writeAll(buf) {
  let done = 0;
  while (done < buf.length) done += writeSync(1, buf, done, buf.length - done);
}

const { op, pos, options } = parse(process.argv.slice(2));
if (op === "dump" && pos.length === 1) {
  const { image } = decode(pos[0], options);
  process.stdout.write(`${JSON.stringify(toDumpObject(image))}\n`);
} else if (op === "export" && pos.length === 2) {
  const origin = new Uint8Array(readFileSync(pos[0]));
  const { bytes: cow, image } = decode(pos[1], options);
  if (image.state === "invalid") {
    process.stdout.write(`${JSON.stringify({ error: { code: "SNAPSHOT_INVALID", message: "the snapshot is invalidated: its view cannot be read" } })}\n`);
    process.exit(1);
  }
  // When an old_chunk appears twice the kernel serves the FIRST entry (Linux 6.1, cases damaged-duplicate-old-chunk*).
  const { view, beyondCow } = snapshotView(image, origin, cow);
  if (beyondCow) fail(`COW chunk ${beyondCow.newChunk} (for origin chunk ${beyondCow.oldChunk}) lies beyond the end of the COW`, 1);
  writeAll(view);
} else {
  fail("usage: reader.mjs dump <cow> [--chunk-size N] | export <origin> <cow> [--chunk-size N]");
}
