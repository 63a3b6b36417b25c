#!/usr/bin/env node
// Conformance reader over @dmsnap/store: activation through PersistentStore.open
// (the store's own activation path) and the view through Snapshot.read. The
// images are loaded into memory devices, so activating a blank COW (which
// writes a header) never touches the input file.
//   reader.mjs dump <cow> [--chunk-size N]
//   reader.mjs export <origin> <cow> [--chunk-size N]
// The store does not expose the raw header words, so "header" is not reported
// (readers.json lists the fields this reader answers for).
import { readFileSync, writeSync } from "node:fs";
import { MemoryDevice, PersistentStore, Snapshot } from "@dmsnap/store";

function fail(message, code = 2) {
  process.stderr.write(`store reader: ${message}\n`);
  process.exit(code);
}

const refuse = (e) => {
  if (e && (e.name === "FormatError" || e.name === "StoreError") && typeof e.code === "string" && e.exitCode !== 2) {
    process.stdout.write(`${JSON.stringify({ error: { code: e.code, message: e.message } })}\n`);
    process.exit(1);
  }
  throw e;
};

const [op, ...rest] = process.argv.slice(2);
const pos = [];
let chunkSize;
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === "--chunk-size") chunkSize = Number(rest[++i]);
  else pos.push(rest[i]);
}
const options = chunkSize ? { chunkSize } : {};
const device = (path) => new MemoryDevice(new Uint8Array(readFileSync(path)));

if (op === "dump" && pos.length === 1) {
  const store = await PersistentStore.open(device(pos[0]), options).catch(refuse);
  const out = {
    state: store.activatedFrom,
    chunkSize: store.chunkSize,
    exceptionsPerArea: store.exceptionsPerArea,
    exceptions: store.loaded.toPairs(),
    nextFree: store.nextFree,
    usage: store.usage(),
    currentArea: store.currentArea,
    deviceBytes: store.device.size,
    status: store.status(),
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else if (op === "export" && pos.length === 2) {
  const origin = device(pos[0]);
  const snap = await Snapshot.open(origin, device(pos[1]), options).catch(refuse);
  const view = await snap.read(0, origin.size).catch(refuse);
  let done = 0;
  while (done < view.length) done += writeSync(1, view, done, view.length - done);
} else {
  fail("usage: reader.mjs dump <cow> [--chunk-size N] | export <origin> <cow> [--chunk-size N]");
}
