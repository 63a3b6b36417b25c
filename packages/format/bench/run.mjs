// Benchmark: decode the metadata of a 1,000,000-exception COW (8-sector
// chunks), next to (a) only reading the same bytes and (b) a naive per-entry
// decoder (BigInt reads, one object per entry). Runs against the built dist.
import { performance } from "node:perf_hooks";
import { areaLocation, chunkBytes, decodeCow, encodeHeader, exceptionsPerArea, makeHeader, writeEntry, allocationSequence } from "../dist/index.js";

const CHUNK = 8;
const COUNT = Number(process.env.DMSNAP_BENCH_EXCEPTIONS ?? 1_000_000);
const E = exceptionsPerArea(CHUNK);
const CB = chunkBytes(CHUNK);
const areas = Math.floor(COUNT / E) + 1;

// A virtual device: only the header and metadata chunks exist in memory; data
// chunks are never read by activation, so a 4 GiB COW costs 16 MiB here.
const chunks = new Map();
chunks.set(0, encodeHeader(makeHeader(CHUNK), CB));
const news = allocationSequence(CHUNK, COUNT);
for (let a = 0; a < areas; a++) chunks.set(areaLocation(CHUNK, a), new Uint8Array(CB));
for (let i = 0; i < COUNT; i++) writeEntry(chunks.get(areaLocation(CHUNK, Math.floor(i / E))), i % E, i * 3, news[i]);
const size = (areaLocation(CHUNK, areas) + 1) * CB;
const zero = new Uint8Array(CB);
const reader = {
  size,
  read(offset, length) {
    const c = chunks.get(Math.floor(offset / CB)) ?? zero;
    const at = offset % CB;
    return c.subarray(at, at + length);
  },
};

function readOnly() {
  let sum = 0;
  for (let a = 0; a < areas; a++) {
    const b = reader.read(areaLocation(CHUNK, a) * CB, CB);
    const w = new Uint32Array(b.buffer, b.byteOffset, b.length / 4);
    for (let i = 0; i < w.length; i++) sum = (sum + w[i]) | 0;
  }
  return sum;
}

function naive() {
  const out = [];
  for (let a = 0; ; a++) {
    const b = reader.read(areaLocation(CHUNK, a) * CB, CB);
    const v = new DataView(b.buffer, b.byteOffset, b.length);
    let i = 0;
    for (; i < E; i++) {
      const oldChunk = v.getBigUint64(i * 16, true);
      const newChunk = v.getBigUint64(i * 16 + 8, true);
      if (newChunk === 0n) break;
      out.push({ oldChunk: Number(oldChunk), newChunk: Number(newChunk) });
    }
    if (i < E) return out.length;
  }
}

function ours() {
  return decodeCow(reader).exceptions.count;
}

function measure(name, fn, expect) {
  const times = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    const n = fn();
    times.push(performance.now() - t0);
    if (expect !== undefined && n !== expect) throw new Error(`${name}: got ${n}, expected ${expect}`);
  }
  times.sort((x, y) => x - y);
  return { name, ms: times[3] };
}

measure("warm-up", ours, COUNT);
const results = [measure("(a) read the bytes only", readOnly), measure("(b) naive per-entry BigInt", naive, COUNT), measure("dmsnap decodeCow", ours, COUNT)];
const base = results[0].ms;
const naiveMs = results[1].ms;
console.log(`format: activation of ${COUNT.toLocaleString("en")} exceptions, ${CHUNK}-sector chunks (${areas} areas), median of 7`);
console.log("| what | ms | M exceptions/s | vs read-only | speed-up over naive |");
console.log("|---|---:|---:|---:|---:|");
for (const r of results) {
  console.log(`| ${r.name} | ${r.ms.toFixed(1)} | ${(COUNT / r.ms / 1000).toFixed(1)} | ${(r.ms / base).toFixed(2)}x time | ${(naiveMs / r.ms).toFixed(1)}x |`);
}
const ourRate = COUNT / results[2].ms / 1000;
const speedup = naiveMs / results[2].ms;
console.log(`targets: >= 50 M exceptions/s (${ourRate >= 50 ? "met" : "MISSED"}: ${ourRate.toFixed(1)}), >= 10x naive (${speedup >= 10 ? "met" : "MISSED"}: ${speedup.toFixed(1)}x)`);
