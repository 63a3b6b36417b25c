#!/usr/bin/env node
// Derived cases: images the kernel recipe cannot make (a device shorter than a
// sector, a blank COW before activation, a trailing partial sector, chunk
// numbers at the 2^53 boundary, ...), made by applying @dmsnap/format's
// damage.* generators to kernel-made images. The EXPECTED VALUES ARE WRITTEN
// BY HAND below from the documented rules (docs/format.md and the kernel's
// rules in docs/conformance.md), never computed by the code under test.
//
//   node conformance/tools/derive.mjs        (needs packages/format/dist)
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { damage } from "@dmsnap/format/testing";
import { CASES, gz, readImage, sha256, viewSha, writeJson } from "./common.mjs";

const SNAP = 0x70416e53;
// Source: kernel-origin-writes-1s. 64-sector COW, 1-sector chunks (E = 32),
// area 0 = {0,2} {5,3} {17,4}; its kernel status is 5/64 2.
const O = "kernel-origin-writes-1s";
const O_ORIGIN = `../${O}/origin.img.gz`;
const O_SHA = "10362f2a1eaaafe3014f6c1d688dfeafdd220fcbe47cccb065211e9d87de2b43"; // the kernel's snapshot sha256 of O
const O_EXC = [[0, 2], [5, 3], [17, 4]];
const u64 = (n) => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
};
// Byte offset of entry i of area 0 on a 1-sector-chunk image (area 0 = chunk 1).
const entry1s = (i) => 512 + 16 * i;

const oValid = (over = {}) => ({
  outcome: "accepted",
  state: "valid",
  header: { magic: SNAP, valid: 1, version: 1, chunkSize: 1 },
  chunkSize: 1,
  exceptionsPerArea: 32,
  exceptions: O_EXC,
  nextFree: 5,
  usage: { totalSectors: 64, allocatedSectors: 5, metadataSectors: 2 },
  currentArea: 0,
  status: "5/64 2",
  ...over,
});

const CASES_TABLE = [
  {
    id: "derived-empty-device",
    blank: true,
    description: "A zero-byte COW: there is no header sector to read.",
    tags: ["truncated", "header"],
    image: () => new Uint8Array(0),
    expected: { outcome: "refused", error: { code: "TRUNCATED" } },
    rule: "the header is read from sector 0; a device shorter than one sector cannot hold it",
  },
  {
    id: "derived-header-fragment-16",
    description: "Only the 16 header bytes of a valid 1-sector-chunk COW: shorter than one sector.",
    tags: ["truncated", "header"],
    image: (o) => damage.truncate(o, 16),
    expected: { outcome: "refused", error: { code: "TRUNCATED" } },
    rule: "the header sector is 512 bytes; 16 bytes is not a device the kernel can read a sector from",
  },
  {
    id: "derived-header-only-1s",
    description: "A valid header (1-sector chunks) and nothing else: area 0 (chunk 1) lies beyond the end.",
    tags: ["truncated", "area"],
    image: (o) => damage.truncate(o, 512),
    expected: { outcome: "refused", error: { code: "TRUNCATED" } },
    rule: "a valid header is followed by reading area 0 at chunk 1",
  },
  {
    id: "derived-blank-one-sector",
    blank: true,
    description: "A blank (all-zero) COW of one sector with table chunk size 1: the kernel would write the header and zero area 0, but chunk 1 does not exist.",
    tags: ["truncated", "new-cow"],
    image: () => new Uint8Array(512),
    table: { mode: "P", chunkSize: 1 },
    expected: { outcome: "refused", error: { code: "TRUNCATED" } },
    rule: "a new COW needs chunk 0 (header) and chunk 1 (area 0)",
  },
  {
    id: "derived-blank-8s",
    blank: true,
    description: "A blank (all-zero) 64-sector COW before its first activation, table chunk size 8: a new snapshot.",
    tags: ["new-cow", "chunk-8"],
    image: () => new Uint8Array(64 * 512),
    origin: O_ORIGIN,
    table: { mode: "P", chunkSize: 8 },
    expected: {
      outcome: "accepted",
      state: "new",
      header: { magic: 0, valid: 0, version: 0, chunkSize: 0 },
      chunkSize: 8,
      exceptionsPerArea: 256,
      exceptions: [],
      nextFree: 2,
      usage: { totalSectors: 64, allocatedSectors: 16, metadataSectors: 16 },
      currentArea: 0,
      status: "16/64 16",
      snapshotSha256: "origin",
    },
    rule: "magic 0 = new: the table's chunk size is used, next_free = 2, no exceptions, the view is the origin",
  },
  {
    id: "derived-blank-default-chunk",
    blank: true,
    description: "A blank 128-sector COW activated with table chunk size 0: the kernel default of 32 sectors applies.",
    tags: ["new-cow", "chunk-default"],
    image: () => new Uint8Array(128 * 512),
    table: { mode: "P", chunkSize: 0 },
    expected: {
      outcome: "accepted",
      state: "new",
      header: { magic: 0, valid: 0, version: 0, chunkSize: 0 },
      chunkSize: 32,
      exceptionsPerArea: 1024,
      exceptions: [],
      nextFree: 2,
      usage: { totalSectors: 128, allocatedSectors: 64, metadataSectors: 64 },
      currentArea: 0,
      status: "64/128 64",
    },
    rule: "table chunk size 0 means max(32, logical block size in sectors) = 32",
  },
  {
    id: "derived-magic-byte-swapped",
    description: 'Header magic stored big-endian (bytes 70 41 6e 53, "pAnS"): not SnAp and not 0.',
    tags: ["header", "magic", "endianness"],
    image: (o) => damage.setHeaderField(o, "magic", 0x536e4170),
    expected: { outcome: "refused", error: { code: "BAD_MAGIC" } },
    rule: "magic is a little-endian u32 that must read 0x70416e53",
  },
  {
    id: "derived-version-ffffffff",
    description: "Header version 0xffffffff.",
    tags: ["header", "version"],
    image: (o) => damage.setHeaderField(o, "version", 0xffffffff),
    expected: { outcome: "refused", error: { code: "UNSUPPORTED_VERSION" } },
    rule: "version must be 1",
  },
  {
    id: "derived-version-and-chunk-size-bad",
    description: "Header version 2 AND chunk size 3: the chunk size is checked before the version.",
    tags: ["header", "version", "chunk-size", "order"],
    image: (o) => damage.setHeaderField(damage.setHeaderField(o, "version", 2), "chunkSize", 3),
    expected: { outcome: "refused", error: { code: "INVALID_CHUNK_SIZE" } },
    rule: "the kernel validates the on-disk chunk size while reading the header, and checks the version afterwards",
  },
  {
    id: "derived-dirty-header-padding",
    description: "Non-zero bytes (0xa5) in the header chunk after the 16 header bytes: ignored.",
    tags: ["header", "padding"],
    image: (o) => damage.dirtyHeaderPadding(o, 1),
    origin: O_ORIGIN,
    expected: oValid({ snapshotSha256: O_SHA }),
    rule: "only the first 16 bytes of chunk 0 are the header",
  },
  {
    id: "derived-trailing-partial-sector",
    description: "A valid COW with 100 extra bytes at the end: the partial sector does not count.",
    tags: ["device-size"],
    image: (o) => {
      const out = new Uint8Array(o.length + 100);
      out.set(o);
      return out;
    },
    origin: O_ORIGIN,
    expected: oValid({ snapshotSha256: O_SHA }),
    rule: "sizes are whole 512-byte sectors: total = floor(bytes / 512)",
  },
  {
    id: "derived-invalid-with-garbage-area",
    description: "valid = 0, and area 0 holds an entry with chunk numbers of 2^60: an invalid snapshot loads no exceptions, so the garbage is never read.",
    tags: ["invalid", "valid", "high-bits"],
    image: (o) => damage.setBytes(damage.setHeaderField(o, "valid", 0), entry1s(0), [...u64(2n ** 60n), ...u64(2n ** 60n)]),
    expected: {
      outcome: "accepted",
      state: "invalid",
      header: { magic: SNAP, valid: 0, version: 1, chunkSize: 1 },
      chunkSize: 1,
      exceptionsPerArea: 32,
      exceptions: [],
      nextFree: 2,
      usage: { totalSectors: 64, allocatedSectors: 2, metadataSectors: 2 },
      currentArea: 0,
      status: "Invalid",
    },
    rule: "valid == 0: the snapshot activates as Invalid and no exceptions are loaded; its usage is that of next_free 2 and current area 0",
  },
  {
    id: "derived-new-chunk-2pow32",
    description: "Second entry's new_chunk is exactly 2^32 (low word 0, high word 1): not a terminator, because the whole u64 is non-zero.",
    tags: ["entry", "terminator", "high-bits"],
    image: (o) => damage.setBytes(o, entry1s(1) + 8, u64(2 ** 32)),
    expected: oValid({
      exceptions: [[0, 2], [5, 4294967296], [17, 4]],
      nextFree: 4294967297,
      usage: { totalSectors: 64, allocatedSectors: 4294967297, metadataSectors: 2 },
      status: "4294967297/64 2",
    }),
    rule: "an entry ends the list only when new_chunk (all 64 bits) is 0; next_free = max(new_chunk) + 1 (4294967297 is not an area chunk: (c - 1) mod 33 = 4)",
  },
  {
    id: "derived-new-chunk-2pow53",
    description: "Second entry's new_chunk is 2^53 + 3.",
    tags: ["entry", "new-chunk", "high-bits"],
    image: (o) => damage.setBytes(o, entry1s(1) + 8, u64(2n ** 53n + 3n)),
    expected: { outcome: "refused", error: { code: "CHUNK_NUMBER_TOO_LARGE" } },
    stricterThanKernel: "the kernel accepts any 64-bit new_chunk (it would fail reading that chunk later); dmsnap refuses chunk numbers of 2^53 or more (CHUNK_NUMBER_TOO_LARGE).",
    rule: "dmsnap keeps chunk numbers below 2^53",
  },
  {
    id: "derived-old-chunk-2pow53-minus-1",
    description: "Second entry's old_chunk is 2^53 - 1, the largest chunk number dmsnap accepts.",
    tags: ["entry", "old-chunk", "high-bits", "boundary"],
    image: (o) => damage.setBytes(o, entry1s(1), u64(2n ** 53n - 1n)),
    expected: oValid({ exceptions: [[0, 2], [9007199254740991, 3], [17, 4]] }),
    rule: "chunk numbers up to 2^53 - 1 are accepted; old_chunk does not affect next_free",
  },
];


// ---- plain image writing for the cases below (no @dmsnap/format code) ------
const SECTOR = 512;
/** A COW of `chunks` chunks of `cs` sectors: header words, then `areas[a]` = [[old, new], ...] at 1 + (E+1)*a. */
function cowBytes({ cs, chunks, words = [SNAP, 1, 1, cs], areas = [], fill, extraBytes = 0 }) {
  const cb = cs * SECTOR;
  const E = 32 * cs;
  const out = Buffer.alloc(chunks * cb + extraBytes);
  if (fill) for (let c = 2; c < chunks; c++) if ((c - 1) % (E + 1) !== 0) fill(out.subarray(c * cb, (c + 1) * cb), c);
  words.forEach((w, i) => out.writeUInt32LE(w, 4 * i));
  areas.forEach((entries, a) => {
    const base = (1 + (E + 1) * a) * cb;
    entries.forEach(([o, n], i) => {
      out.writeBigUInt64LE(BigInt(o), base + 16 * i);
      out.writeBigUInt64LE(BigInt(n), base + 16 * i + 8);
    });
  });
  return out;
}
/**
 * `count` exceptions allocated the way the kernel allocates (format.md,
 * Allocation): new chunks 2, 3, ... skipping every area chunk; old_chunk from
 * `oldOf(i)`. Returns the areas and the flat list in on-disk order.
 */
function allocate(cs, count, oldOf) {
  const E = 32 * cs;
  const areas = [];
  const flat = [];
  let next = 2;
  for (let i = 0; i < count; i++) {
    const pair = [oldOf(i), next];
    (areas[Math.floor(i / E)] ??= []).push(pair);
    flat.push(pair);
    next++;
    if (next % (E + 1) === 1) next++;
  }
  return { areas, flat };
}
const valid = (cs, exceptions, nextFree, currentArea, totalSectors, over = {}) => ({
  outcome: "accepted",
  state: "valid",
  header: { magic: SNAP, valid: 1, version: 1, chunkSize: cs },
  chunkSize: cs,
  exceptionsPerArea: 32 * cs,
  exceptions,
  nextFree,
  usage: { totalSectors, allocatedSectors: nextFree * cs, metadataSectors: (currentArea + 2) * cs },
  currentArea,
  status: `${nextFree * cs}/${totalSectors} ${(currentArea + 2) * cs}`,
  ...over,
});
const refused = (code) => ({ outcome: "refused", error: { code } });
/** The expectations of a kernel-made case, as the kernel answered them. */
const kernelExpected = (id) => JSON.parse(readFileSync(join(CASES, id, "case.json"), "utf8")).expected;
const originOf = (id) => readImage(join(CASES, id, "origin.img.gz"));
/** An origin whose every sector says which sector it is (so a wrong chunk shows in the hash). */
const patternOrigin = (bytes) => {
  const b = Buffer.alloc(bytes);
  for (let s = 0; s * SECTOR < bytes; s++) b.write(`origin sector ${s} `.repeat(24), s * SECTOR, Math.min(SECTOR, bytes - s * SECTOR));
  return b;
};
/** A data chunk whose bytes parse as exception entries (e.g. a disk that held another COW). */
const entryLike = (buf, c) => {
  for (let at = 0; at + 16 <= buf.length; at += 16) {
    buf.writeBigUInt64LE(BigInt(1000 + c), at);
    buf.writeBigUInt64LE(BigInt(3 + (at / 16) * 2), at + 8);
  }
};
const TOO_LARGE_NOTE = "the kernel keeps 64-bit chunk numbers and would activate this image; dmsnap refuses it (CHUNK_NUMBER_TOO_LARGE)";

// 1100 full areas and a partial one (1-sector chunks, E = 32): more than 1000 areas.
const BIG = allocate(1, 1100 * 32 + 5, (i) => 7 + 3 * i);
// Three areas with 2-sector chunks (E = 64): two full, the third holds 3.
const THREE = allocate(2, 64 * 2 + 3, (i) => (i * 37) % 150);
// One full area of 8-sector chunks (E = 256), cut inside area 1.
const FULL8 = allocate(8, 256, (i) => i);
const C2 = kernelExpected("kernel-chunk-2s");
const PARTIAL = kernelExpected("kernel-partial-last-chunk-8s");

const NEW_CASES = [
  {
    id: "derived-areas-1100-1s",
    description: "1101 metadata areas (1-sector chunks): 1100 full areas and 5 entries in area 1100; the data chunks are all zero.",
    tags: ["multi-area", "many-areas", "data-zero", "chunk-1"],
    image: () => cowBytes({ cs: 1, chunks: 36320, areas: BIG.areas }),
    table: { mode: "P", chunkSize: 1 },
    expected: valid(1, BIG.flat, 36307, 1100, 36320),
    rule: "every full area is followed by the next (no cap on their number); area a is at 1 + 33a; next_free = 36306 + 1",
  },
  {
    id: "derived-areas-1100-truncated-1s",
    description: "The first 36301 chunks of derived-areas-1100-1s: areas 0..1099 are full and area 1100 (chunk 36301) lies just past the end.",
    tags: ["multi-area", "many-areas", "truncated", "chunk-1"],
    image: () => cowBytes({ cs: 1, chunks: 36301, areas: BIG.areas.slice(0, 1100) }),
    table: { mode: "P", chunkSize: 1 },
    expected: refused("TRUNCATED"),
    rule: "after 1100 full areas the kernel must read area 1100, which is not inside the device",
  },
  {
    id: "derived-zero-data-chunks-2s",
    description: "Three areas of 2-sector chunks (two full, three entries in area 2) whose data chunks are all zero, with the snapshot view.",
    tags: ["multi-area", "data-zero", "chunk-2"],
    image: () => cowBytes({ cs: 2, chunks: 140, areas: THREE.areas }),
    originBytes: () => patternOrigin(150 * 1024),
    table: { mode: "P", chunkSize: 2 },
    expected: valid(2, THREE.flat, 135, 2, 280, { snapshotSha256: "view" }),
    rule: "areas at 1, 66, 131; the highest new_chunk is 134, so next_free = 135; the view serves zeros for the mapped chunks",
  },
  {
    id: "derived-entry-like-data-2s",
    description: "The same three areas, but every data chunk holds bytes that parse as exception entries (as on a disk that once held another COW).",
    tags: ["multi-area", "data-entries", "chunk-2"],
    image: () => cowBytes({ cs: 2, chunks: 140, areas: THREE.areas, fill: entryLike }),
    originBytes: () => patternOrigin(150 * 1024),
    table: { mode: "P", chunkSize: 2 },
    expected: valid(2, THREE.flat, 135, 2, 280, { snapshotSha256: "view" }),
    rule: "only area chunks (1 + 65a) hold metadata; data chunks are never parsed",
  },
  {
    id: "derived-partial-area-8s",
    description: "8-sector chunks: area 0 is full (256 entries) and the device ends 4 sectors into area 1 (chunk 258).",
    tags: ["truncated", "multi-area", "chunk-8"],
    image: () => cowBytes({ cs: 8, chunks: 258, areas: FULL8.areas, extraBytes: 2048 }),
    table: { mode: "P", chunkSize: 8 },
    expected: refused("TRUNCATED"),
    rule: "a full area must be followed by a whole area chunk inside the device; half of one is not enough",
  },
  {
    id: "derived-old-chunk-2pow53-1s",
    description: "Second entry's old_chunk is exactly 2^53.",
    tags: ["entry", "old-chunk", "high-bits", "boundary"],
    image: (o) => damage.setBytes(o, entry1s(1), u64(2n ** 53n)),
    expected: refused("CHUNK_NUMBER_TOO_LARGE"),
    stricterThanKernel: TOO_LARGE_NOTE,
    rule: "a chunk number of 2^53 or more is refused",
  },
  {
    id: "derived-fragment-12-bad-magic",
    blank: true,
    description: "A 12-byte device holding the start of a bad header (deadbeef ...): shorter than the 16 header bytes.",
    tags: ["truncated", "header", "magic"],
    image: () => Buffer.from("efbeadde0100000001000000", "hex"),
    table: { mode: "P", chunkSize: 0 },
    expected: refused("TRUNCATED"),
    rule: "a device shorter than one sector is refused before the header is looked at",
  },
  {
    id: "derived-fragment-100-bad-magic",
    description: "The first 100 bytes of a COW whose magic is 0xdeadbeef: less than a sector.",
    tags: ["truncated", "header", "magic"],
    image: (o) => damage.truncate(damage.setHeaderField(o, "magic", 0xdeadbeef), 100),
    table: { mode: "P", chunkSize: 0 },
    expected: refused("TRUNCATED"),
    rule: "the header sector must exist (D >= 512) before its magic is judged",
  },
  {
    id: "derived-fragment-300-invalid",
    description: "The first 300 bytes of an invalidated COW (valid = 0): an invalid header, but less than a sector.",
    tags: ["truncated", "header", "invalid"],
    image: (o) => damage.truncate(damage.setHeaderField(o, "valid", 0), 300),
    table: { mode: "P", chunkSize: 0 },
    expected: refused("TRUNCATED"),
    rule: "D < 512 is refused even when no area would be read",
  },
  {
    id: "derived-fragment-16-table-3",
    description: "The 16 header bytes of a valid COW under a table with chunk size 3: the table is refused before the device is read.",
    tags: ["table", "chunk-size", "truncated", "order"],
    image: (o) => damage.truncate(o, 16),
    table: { mode: "P", chunkSize: 3 },
    expected: refused("INVALID_CHUNK_SIZE"),
    rule: "the table's chunk size is checked first (when the table is parsed), then the device size",
  },
  {
    id: "derived-empty-table-6",
    blank: true,
    description: "A zero-byte device under a table with chunk size 6.",
    tags: ["table", "chunk-size", "truncated", "order"],
    image: () => Buffer.alloc(0),
    table: { mode: "P", chunkSize: 6 },
    expected: refused("INVALID_CHUNK_SIZE"),
    rule: "the table's chunk size is checked before the device is read",
  },
  {
    id: "derived-partial-trailing-chunk-2s-odd",
    description: "kernel-chunk-2s with 700 more bytes: a partial trailing chunk that also ends in a partial sector.",
    tags: ["device-size", "chunk-2"],
    from: "kernel-chunk-2s",
    image: (o) => Buffer.concat([o, Buffer.alloc(700)]),
    origin: "../kernel-chunk-2s/origin.img.gz",
    table: { mode: "P", chunkSize: 2 },
    expected: { ...C2, usage: { ...C2.usage, totalSectors: 65 }, status: "10/65 4" },
    rule: "total = floor(D / 512): the 188 bytes after the last whole sector do not count",
  },
  {
    id: "derived-origin-odd-bytes-8s",
    description: "kernel-partial-last-chunk-8s's COW over its origin cut to 30001 bytes: the origin is not a whole number of sectors.",
    tags: ["view", "device-size", "chunk-8"],
    from: "kernel-partial-last-chunk-8s",
    image: (o) => o,
    originBytes: () => originOf("kernel-partial-last-chunk-8s").subarray(0, 30001),
    table: { mode: "P", chunkSize: 8 },
    expected: { ...PARTIAL, snapshotSha256: "view" },
    rule: "the view has exactly the origin's size in bytes; its last chunk is partial",
  },
];

const source = readImage(join(CASES, O, "cow.img.gz"));
const originSha = sha256(readImage(join(CASES, O, "origin.img.gz")));
for (const name of readdirSync(CASES)) if (name.startsWith("derived-")) rmSync(join(CASES, name), { recursive: true, force: true });
for (const d of [...CASES_TABLE, ...NEW_CASES]) {
  const dir = join(CASES, d.id);
  mkdirSync(dir, { recursive: true });
  const from = d.from ?? O;
  const cow = Buffer.from(d.image(new Uint8Array(d.from ? readImage(join(CASES, d.from, "cow.img.gz")) : source)));
  writeFileSync(join(dir, "cow.img.gz"), gz(cow));
  let origin;
  let originFile = d.origin;
  if (d.originBytes) {
    origin = d.originBytes();
    writeFileSync(join(dir, "origin.img.gz"), gz(origin));
    originFile = "origin.img.gz";
  } else if (d.origin) origin = readImage(join(dir, d.origin));
  const expected = Object.fromEntries(Object.entries(d.expected).filter(([, v]) => v !== undefined));
  if (expected.snapshotSha256 === "origin") expected.snapshotSha256 = d.origin === O_ORIGIN && !d.originBytes ? originSha : sha256(origin); // a new or empty COW's view is the origin itself
  if (expected.snapshotSha256 === "view") expected.snapshotSha256 = viewSha(origin, cow, expected.chunkSize, expected.exceptions, "first");
  // Long exception lists go to a file beside case.json.
  if (expected.exceptions && expected.exceptions.length > 200) {
    writeFileSync(join(dir, "exceptions.json.gz"), gz(Buffer.from(JSON.stringify(expected.exceptions))));
    delete expected.exceptions;
    expected.exceptionsFile = "exceptions.json.gz";
  }
  const c = {
    $schema: "../../schema/case.schema.json",
    id: d.id,
    description: d.description,
    tags: ["derived", ...d.tags],
    provenance: {
      kind: "derived",
      ...(d.blank || (!d.from && d.image.length === 0) ? {} : { from, mutation: d.id.replace(/^derived-/, "") }),
      note: `expected values written by hand from the rule: ${d.rule}`,
      generator: "conformance/tools/derive.mjs",
    },
    files: { cow: "cow.img.gz", ...(originFile ? { origin: originFile } : {}) },
    table: d.table ?? { mode: "P", chunkSize: 1 },
    expected,
    ...(d.stricterThanKernel ? { stricterThanKernel: d.stricterThanKernel } : {}),
  };
  writeJson(join(dir, "case.json"), c);
}
console.log(`derive: wrote ${CASES_TABLE.length + NEW_CASES.length} derived case(s)`);
