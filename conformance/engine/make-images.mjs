#!/usr/bin/env node
// Makes COW images with OUR store engine (@dmsnap/store), deterministically,
// for the real kernel to read (conformance/engine/check-with-kernel.py).
//
//   node conformance/engine/make-images.mjs --out DIR [--only NAME ...] [--list]
//
// For every image NAME it writes DIR/NAME/origin.img and DIR/NAME/cow.img,
// and DIR/manifest.json: one entry per image with the origin and COW sizes,
// the chunk size, the writes applied, and OUR expectations, taken from the
// CLI exactly as a user would get them:
//   expectedStatus = `dmsnap dump --json <cow>`.status  ("Invalid" when valid = 0)
//   expectedSha256 = sha256 of `dmsnap export` (null when the snapshot is invalid:
//                    export refuses, and the kernel's read fails with EIO)
//
// Every write goes through the store's `applyWrite` (the function behind
// `dmsnap write`): each one opens the COW (an activation), applies the write
// through the snapshot semantics and makes it durable, so the images also
// exercise reload. The COW starts with `createCow` (`dmsnap create`).
// Nothing is random at run time: the random images use a fixed-seed PRNG.
//
// Content: every 512-byte sector of the origin is 32 records "ORIGIN <sector
// hex8>\n" (the kernel recipe's pattern). A write with tag T at byte offset b
// writes the bytes b.. of the same pattern with tag T (so records stay aligned
// to absolute sectors even for unaligned writes): `strings cow.img` shows where
// each data chunk came from. Tags: origin writes "Wn", snapshot writes "Sn"
// (n = the write's number in its image).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "..", "..");
const CLI = join(REPO, "packages/cli/dist/bin.js");
const STORE = join(REPO, "packages/store/dist/index.js");
const FORMAT = join(REPO, "packages/format/dist/index.js");
const { StoreError } = await import(STORE);
const { applyWrite, createCow } = await import(join(REPO, "packages/store/dist/node.js"));
const { bytesReader, decodeCow } = await import(FORMAT);

const SECTOR = 512;

// ---------------------------------------------------------------- content
function record(tag, sector) {
  return Buffer.from(tag.slice(0, 6).padEnd(6) + " " + (sector >>> 0).toString(16).padStart(8, "0") + "\n", "ascii");
}
/** `length` bytes of the tag's pattern starting at absolute byte `offset`. */
function patternBytes(tag, offset, length) {
  const out = Buffer.alloc(length);
  const first = Math.floor(offset / SECTOR);
  const last = Math.floor((offset + length - 1) / SECTOR);
  for (let s = first; s <= last; s++) {
    const sec = Buffer.concat(Array(SECTOR / 16).fill(record(tag, s)));
    const from = Math.max(offset, s * SECTOR);
    const to = Math.min(offset + length, (s + 1) * SECTOR);
    sec.copy(out, from - offset, from - s * SECTOR, to - s * SECTOR);
  }
  return out;
}

// ---------------------------------------------------------------- PRNG (mulberry32)
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)); // inclusive
  const shuffle = (xs) => {
    const a2 = [...xs];
    for (let i = a2.length - 1; i > 0; i--) {
      const j = int(0, i);
      [a2[i], a2[j]] = [a2[j], a2[i]];
    }
    return a2;
  };
  return { next, int, shuffle };
}
const range = (n, from = 0) => Array.from({ length: n }, (_, i) => from + i);

// ---------------------------------------------------------------- images
// Each: name, description, chunkSize (sectors), originSectors, cowSectors,
// overflow (PO while writing), tags, and ops(): a list of
// {to: "origin"|"snapshot", offset (bytes), length (bytes)} (or a function
// that gets a `state` callback and returns ops one at a time, for fill-until).
const S = SECTOR;
const IMAGES = [
  {
    name: "origin-writes-1s",
    description: "1-sector chunks: origin writes to sectors 0, 5, 17, a 100-byte write inside sector 5 again (no new exception), and one 3-sector write at 40 (three exceptions committed as one batch).",
    chunkSize: 1, originSectors: 64, cowSectors: 64, tags: ["origin-write", "batch"],
    ops: () => [
      { to: "origin", offset: 0 * S, length: S },
      { to: "origin", offset: 5 * S, length: S },
      { to: "origin", offset: 17 * S, length: S },
      { to: "origin", offset: 5 * S + 100, length: 100 },
      { to: "origin", offset: 40 * S, length: 3 * S },
    ],
  },
  {
    name: "one-full-area-1s",
    description: "1-sector chunks: exactly 32 exceptions (one full area, E = 32), one single-sector origin write per chunk in a seeded shuffled order (seed 101). Area 1 is zeroed and current; next_free skips it.",
    chunkSize: 1, originSectors: 64, cowSectors: 64, tags: ["origin-write", "full-area"],
    ops: () => rng(101).shuffle(range(40)).slice(0, 32).map((c) => ({ to: "origin", offset: c * S, length: S })),
  },
  {
    name: "batch-crosses-area-1s",
    description: "1-sector chunks: ONE 40-sector origin write at sector 3: 40 exceptions in flight at once, committed in batches, area 0 fills mid-batch and the rest goes to area 1.",
    chunkSize: 1, originSectors: 64, cowSectors: 64, tags: ["origin-write", "batch", "multi-area"],
    ops: () => [{ to: "origin", offset: 3 * S, length: 40 * S }],
  },
  {
    name: "multi-area-1s",
    description: "1-sector chunks: 80 exceptions over 3 areas (32 + 32 + 16): single-sector origin writes in a seeded shuffled order (seed 202), then a few multi-sector writes over chunks already copied and new ones.",
    chunkSize: 1, originSectors: 96, cowSectors: 128, tags: ["origin-write", "multi-area"],
    ops: () => {
      const order = rng(202).shuffle(range(96));
      const singles = order.slice(0, 70).map((c) => ({ to: "origin", offset: c * S, length: S }));
      // the 26 chunks not yet written: cover them with multi-sector writes until 80 exceptions
      const rest = order.slice(70).sort((a, b) => a - b);
      const multi = [];
      let want = 10;
      for (const c of rest) {
        if (want === 0) break;
        multi.push({ to: "origin", offset: c * S, length: S });
        want--;
      }
      // merge adjacent singles in `multi` into longer writes
      const merged = [];
      for (const w of multi) {
        const prev = merged[merged.length - 1];
        if (prev && prev.offset + prev.length === w.offset) prev.length += w.length;
        else merged.push({ ...w });
      }
      return [...singles, ...merged];
    },
  },
  {
    name: "multi-area-2s",
    description: "2-sector chunks (E = 64): origin writes of 1..5 sectors at seeded random sector offsets (seed 303, not chunk-aligned) until at least 75 exceptions: areas 0 (full) and 1.",
    chunkSize: 2, originSectors: 192, cowSectors: 192, tags: ["origin-write", "multi-area", "unaligned"],
    until: { exceptions: 75 },
    ops: () => {
      const r = rng(303);
      return range(400).map(() => {
        const sectors = r.int(1, 5);
        return { to: "origin", offset: r.int(0, 192 - sectors) * S, length: sectors * S };
      });
    },
  },
  {
    name: "snapshot-writes-4s",
    description: "4-sector chunks: snapshot writes: a whole chunk (chunk 2, no copy), one sector inside chunk 5 (copy then write), 100 bytes inside chunk 7, 3 sectors spanning chunks 9-10, and again into chunk 2; then origin writes to chunk 2 (has an exception: no copy) and chunk 12.",
    chunkSize: 4, originSectors: 64, cowSectors: 64, tags: ["snapshot-write", "origin-write", "partial-chunk"],
    ops: () => [
      { to: "snapshot", offset: 8 * S, length: 4 * S },
      { to: "snapshot", offset: 21 * S, length: S },
      { to: "snapshot", offset: 29 * S + 37, length: 100 },
      { to: "snapshot", offset: 39 * S, length: 3 * S },
      { to: "snapshot", offset: 9 * S + 200, length: 300 },
      { to: "origin", offset: 8 * S, length: 2 * S },
      { to: "origin", offset: 49 * S, length: S },
    ],
  },
  {
    name: "chunk-8s",
    description: "8-sector chunks: origin writes to chunks 0, 3 (partial), 17-18 (one write) and a snapshot write of one sector in chunk 9.",
    chunkSize: 8, originSectors: 256, cowSectors: 128, tags: ["origin-write", "snapshot-write"],
    ops: () => [
      { to: "origin", offset: 0, length: 8 * S },
      { to: "origin", offset: 26 * S, length: 2 * S },
      { to: "origin", offset: 140 * S, length: 8 * S },
      { to: "snapshot", offset: 75 * S, length: S },
    ],
  },
  {
    name: "chunk-16s",
    description: "16-sector chunks: origin writes to chunks 1, 2 (one write across both), 30 (one sector), and a whole-chunk snapshot write of chunk 7.",
    chunkSize: 16, originSectors: 512, cowSectors: 256, tags: ["origin-write", "snapshot-write"],
    ops: () => [
      { to: "origin", offset: 20 * S, length: 20 * S },
      { to: "origin", offset: 490 * S, length: S },
      { to: "snapshot", offset: 112 * S, length: 16 * S },
    ],
  },
  {
    name: "chunk-default",
    description: "The default chunk size, 32 sectors (16 KiB): origin writes to chunks 0 and 5 and a 4 KiB snapshot write inside chunk 20.",
    chunkSize: 32, originSectors: 1024, cowSectors: 512, tags: ["origin-write", "snapshot-write", "default-chunk-size"],
    ops: () => [
      { to: "origin", offset: 0, length: S },
      { to: "origin", offset: 5 * 32 * S + 7 * S, length: 3 * S },
      { to: "snapshot", offset: 20 * 32 * S + 4096, length: 4096 },
    ],
  },
  {
    name: "invalidated-1s",
    description: "1-sector chunks, an 8-sector COW (room for 6 data chunks): single-sector origin writes to sectors 0, 1, 2, ... until one finds the COW full; that write invalidates the snapshot (header valid = 0, NO_SPACE) and still reaches the origin.",
    chunkSize: 1, originSectors: 64, cowSectors: 8, tags: ["origin-write", "invalid", "overflow"],
    untilError: "NO_SPACE",
    ops: () => range(20).map((c) => ({ to: "origin", offset: c * S, length: S })),
  },
  {
    name: "invalidated-snapshot-write-2s",
    description: "2-sector chunks, a 16-sector COW without PO: one-sector snapshot writes to chunks 0, 1, 2, ... until the COW is full; that snapshot write invalidates the snapshot (valid = 0).",
    chunkSize: 2, originSectors: 64, cowSectors: 16, tags: ["snapshot-write", "invalid", "overflow"],
    untilError: "NO_SPACE",
    ops: () => range(20).map((c) => ({ to: "snapshot", offset: c * 2 * S + S, length: S })),
  },
  {
    name: "overflow-reloaded-1s",
    description: "1-sector chunks, a 12-sector COW written with PO (overflow): snapshot writes until one fails with OVERFLOW (the COW is full, nothing invalidated: Overflow is not stored), then reloaded by an origin write to a chunk that already has an exception. The kernel reads it with P.",
    chunkSize: 1, originSectors: 64, cowSectors: 12, overflow: true, tags: ["snapshot-write", "overflow", "reload", "full-cow"],
    untilError: "OVERFLOW",
    after: [{ to: "origin", offset: 0, length: S }],
    ops: () => range(30).map((c) => ({ to: "snapshot", offset: c * S, length: S })),
  },
  {
    name: "mixed-random-1s",
    description: "1-sector chunks: 60 seeded random writes (seed 404): origin or snapshot (about 60/40), byte offsets and lengths of 1..1300 bytes, most inside one chunk; stops before the COW is full.",
    chunkSize: 1, originSectors: 96, cowSectors: 160, tags: ["origin-write", "snapshot-write", "random", "unaligned", "multi-area"],
    random: { seed: 404, count: 60, maxLength: 1300 },
  },
  {
    name: "mixed-random-4s",
    description: "4-sector chunks: 60 seeded random writes (seed 505): origin or snapshot, byte offsets and lengths of 1..3000 bytes (sub-chunk), stops before the COW is full.",
    chunkSize: 4, originSectors: 256, cowSectors: 256, tags: ["origin-write", "snapshot-write", "random", "unaligned"],
    random: { seed: 505, count: 60, maxLength: 3000 },
  },
  {
    name: "mixed-random-8s",
    description: "8-sector chunks: 40 seeded random writes (seed 606): origin or snapshot, byte offsets and lengths of 1..6000 bytes, stops before the COW is full.",
    chunkSize: 8, originSectors: 512, cowSectors: 384, tags: ["origin-write", "snapshot-write", "random", "unaligned"],
    random: { seed: 606, count: 40, maxLength: 6000 },
  },
];

function randomOps({ seed, count, maxLength }, originBytes) {
  const r = rng(seed);
  return range(count).map(() => {
    const length = r.int(1, maxLength);
    return { to: r.next() < 0.6 ? "origin" : "snapshot", offset: r.int(0, originBytes - length), length };
  });
}

// ---------------------------------------------------------------- CLI helpers
function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
function cli(args) {
  // Retry while packages/cli/dist is missing: a concurrent `pnpm build` cleans it for a few seconds.
  for (let attempt = 0; ; attempt++) {
    try {
      return execFileSync(process.execPath, [CLI, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      if (attempt < 60 && /MODULE_NOT_FOUND|Cannot find module/.test(String(e.stderr ?? ""))) {
        sleep(1000);
        continue;
      }
      throw e;
    }
  }
}
function cliJson(args) {
  try {
    return { ok: true, value: JSON.parse(cli([...args, "--json"])) };
  } catch (e) {
    const out = e.stdout ? JSON.parse(e.stdout) : { error: { code: "EXEC", message: String(e) } };
    return { ok: false, value: out };
  }
}
/** In-process decode (the same @dmsnap/format code as `dmsnap dump`), for the fill checks while writing. */
function peek(cow) {
  const buf = readFileSync(cow);
  const img = decodeCow(bytesReader(new Uint8Array(buf.buffer, buf.byteOffset, buf.length)));
  return { nextFree: img.nextFree, exceptions: img.exceptions.toPairs().length, totalSectors: img.usage.totalSectors };
}
function dump(cow) {
  const r = cliJson(["dump", cow]);
  if (!r.ok) throw new Error(`dmsnap dump ${cow}: ${JSON.stringify(r.value)}`);
  return r.value;
}
const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

// ---------------------------------------------------------------- make one
async function make(img, outDir) {
  const dir = join(outDir, img.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const origin = join(dir, "origin.img");
  const cow = join(dir, "cow.img");
  const input = join(dir, "input.bin");
  writeFileSync(origin, patternBytes("ORIGIN", 0, img.originSectors * S));
  await createCow({ cow, chunkSize: img.chunkSize, size: img.cowSectors * S });

  const originBytes = img.originSectors * S;
  let ops = img.random ? randomOps(img.random, originBytes) : img.ops();
  const cs = img.chunkSize * S;
  const applied = [];
  let stoppedBy = null;
  const apply = async (op, n) => {
    const tag = (op.to === "origin" ? "W" : "S") + n;
    writeFileSync(input, patternBytes(tag, op.offset, op.length));
    const rec = { n, to: op.to, offset: op.offset, length: op.length, tag };
    try {
      const res = await applyWrite({ origin, cow, offset: op.offset, input, target: op.to, overflow: !!img.overflow });
      rec.exceptionsAdded = res.exceptionsAdded;
      rec.status = res.status;
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      rec.error = e.code;
    }
    applied.push(rec);
    return rec;
  };
  let n = 0;
  for (const op of ops) {
    n++;
    if (img.random) {
      // stop before a write could fill the COW: keep room for every chunk it touches
      const d = peek(cow);
      const touched = Math.floor((op.offset + op.length - 1) / cs) - Math.floor(op.offset / cs) + 1;
      const roomChunks = d.totalSectors / img.chunkSize - d.nextFree - 2; // -1 next-area terminator margin, -1 for the (next_free+1) rule
      if (touched > roomChunks) { stoppedBy = "room"; break; }
    }
    const rec = await apply(op, n);
    if (rec.error) {
      if (img.untilError === rec.error) { stoppedBy = rec.error; break; }
      throw new Error(`${img.name}: write ${n} (${op.to} @${op.offset}+${op.length}) failed: ${rec.error}`);
    }
    if (img.until && peek(cow).exceptions >= img.until.exceptions) { stoppedBy = "enough"; break; }
  }
  if (img.untilError && stoppedBy !== img.untilError) throw new Error(`${img.name}: never got ${img.untilError}`);
  for (const op of img.after ?? []) {
    const rec = await apply(op, ++n);
    if (rec.error) throw new Error(`${img.name}: write ${n} failed: ${rec.error}`);
  }
  rmSync(input, { force: true });

  // OUR expectations, from the CLI.
  const d = dump(cow);
  const view = join(dir, "view.img");
  const ex = cliJson(["export", "--origin", origin, "--cow", cow, "--output", view]);
  let expectedSha256 = null;
  let exportError = null;
  if (ex.ok) {
    expectedSha256 = sha256(readFileSync(view));
    rmSync(view, { force: true });
  } else exportError = ex.value.error;
  const cowBuf = readFileSync(cow);
  return {
    name: img.name,
    id: `engine-${img.name}`,
    description: img.description,
    chunkSize: img.chunkSize,
    mode: "P",
    writtenWith: img.overflow ? "PO" : "P",
    originBytes,
    cowBytes: img.cowSectors * S,
    origin: join(img.name, "origin.img"),
    cow: join(img.name, "cow.img"),
    tags: img.tags,
    writes: applied.length,
    stoppedBy,
    state: d.state,
    exceptions: d.exceptions.length,
    nextFree: d.nextFree,
    currentArea: d.currentArea,
    expectedStatus: d.status,
    expectedActivation: d.state === "invalid" ? "invalid" : "accepted",
    expectedSha256,
    exportError,
    cowSha256: sha256(cowBuf),
    originSha256: sha256(readFileSync(origin)),
    log: applied,
  };
}

// ---------------------------------------------------------------- main
const argv = process.argv.slice(2);
if (argv.includes("--list")) {
  for (const i of IMAGES) console.log(`${i.name}\t${i.chunkSize}s\t${i.description}`);
  process.exit(0);
}
const outIdx = argv.indexOf("--out");
if (outIdx < 0 || !argv[outIdx + 1]) {
  console.error("usage: make-images.mjs --out DIR [--only NAME ...] [--list]");
  process.exit(2);
}
const outDir = resolve(argv[outIdx + 1]);
const only = [];
for (let i = 0; i < argv.length; i++) if (argv[i] === "--only") only.push(argv[++i]);
const chosen = only.length ? IMAGES.filter((i) => only.includes(i.name)) : IMAGES;
if (only.length && chosen.length !== only.length) {
  console.error(`unknown image(s): ${only.filter((o) => !IMAGES.some((i) => i.name === o)).join(", ")}`);
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const t0 = Date.now();
const manifest = [];
for (const img of chosen) {
  const m = await make(img, outDir);
  manifest.push(m);
  console.error(`make-images: ${m.id}: ${m.exceptions} exceptions, ${m.writes} writes, status ${m.expectedStatus}, sha ${m.expectedSha256 ? m.expectedSha256.slice(0, 12) : "-"}`);
}
writeFileSync(join(outDir, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.error(`make-images: ${manifest.length} image(s) in ${outDir} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
