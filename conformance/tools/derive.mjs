#!/usr/bin/env node
// Derived cases: images the kernel recipe cannot make (a device shorter than a
// sector, a blank COW before activation, a trailing partial sector, chunk
// numbers at the 2^53 boundary, ...), made by applying @dmsnap/format's
// damage.* generators to kernel-made images. The EXPECTED VALUES ARE WRITTEN
// BY HAND below from the documented rules (docs/format.md and the kernel's
// rules in docs/conformance.md), never computed by the code under test.
//
//   node conformance/tools/derive.mjs        (needs packages/format/dist)
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { damage } from "@dmsnap/format";
import { CASES, gz, readImage, writeJson } from "./common.mjs";

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
      status: "Invalid",
    },
    rule: "valid == 0: the snapshot activates as Invalid and no exceptions are loaded",
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

const source = readImage(join(CASES, O, "cow.img.gz"));
const originSha = (await import("./common.mjs")).sha256(readImage(join(CASES, O, "origin.img.gz")));
for (const name of readdirSync(CASES)) if (name.startsWith("derived-")) rmSync(join(CASES, name), { recursive: true, force: true });
for (const d of CASES_TABLE) {
  const dir = join(CASES, d.id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cow.img.gz"), gz(d.image(new Uint8Array(source))));
  const expected = { ...d.expected };
  if (expected.snapshotSha256 === "origin") expected.snapshotSha256 = originSha; // a new COW's view is the origin itself
  const c = {
    $schema: "../../schema/case.schema.json",
    id: d.id,
    description: d.description,
    tags: ["derived", ...d.tags],
    provenance: {
      kind: "derived",
      ...(d.blank ? {} : { from: O, mutation: d.id.replace(/^derived-/, "") }),
      note: `expected values written by hand from the rule: ${d.rule}`,
      generator: "conformance/tools/derive.mjs",
    },
    files: { cow: "cow.img.gz", ...(d.origin ? { origin: d.origin } : {}) },
    table: d.table ?? { mode: "P", chunkSize: 1 },
    expected,
    ...(d.stricterThanKernel ? { stricterThanKernel: d.stricterThanKernel } : {}),
  };
  writeJson(join(dir, "case.json"), c);
}
console.log(`derive: wrote ${CASES_TABLE.length} derived case(s)`);
