/**
 * `dmsnap dump --json` is written by a byte-level streaming writer (digit
 * loops into a reused buffer). Its output must stay byte-identical to the
 * documented object as JSON.stringify prints it (docs/dump-json.md, key
 * order with `exceptions` last): on every conformance image, across many
 * buffer flushes, and on chunk numbers at the digit, 2^32 and 2^53 edges,
 * whose expected text is written out by hand here.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bytesReader, decodeCow, FormatError, toDumpObject, type ActivationOptions, type CowImage } from "@dmsnap/format";
import { buildCow } from "@dmsnap/format/testing";
import { writeJsonDump } from "../src/commands/dump.js";
import { writeJsonDumpFromPieces } from "../src/commands/dumpRun.js";
import { ByteSink } from "../src/util/textSink.js";
import { forEachEntry, forEachPiece, scanCow } from "../src/util/streamCow.js";
import { dmsnap, tempDir, writeTemp } from "./helpers.js";

/** The reference: the whole object built in memory and printed by JSON.stringify. */
function reference(img: CowImage): string {
  const { exceptions, ...rest } = toDumpObject(img);
  return `${JSON.stringify({ ...rest, exceptions })}\n`;
}

/**
 * The streaming writer into a small buffer (many flushes, numbers split
 * across none), both ways: from a table (writeJsonDump) and straight from
 * the metadata words (writeJsonDumpFromPieces, what dmsnap runs on a
 * little-endian host). They must agree byte for byte.
 */
function streamed(bytes: Uint8Array, table: ActivationOptions, bufferBytes = 200): string {
  const reader = bytesReader(bytes);
  const image = scanCow(reader, table);
  const out: Buffer[] = [];
  const sink = new ByteSink((b, n) => out.push(Buffer.from(b.subarray(0, n))), bufferBytes);
  writeJsonDump(image, [], (visit) => forEachEntry(reader, table, visit), sink);
  const fromPieces: Buffer[] = [];
  const pieceSink = new ByteSink((b, n) => fromPieces.push(Buffer.from(b.subarray(0, n))), bufferBytes);
  writeJsonDumpFromPieces(image, [], (visit) => forEachPiece(reader, table, visit), pieceSink);
  const text = Buffer.concat(out).toString("utf8");
  expect(Buffer.concat(fromPieces).toString("utf8")).toBe(text);
  return text;
}

describe("dump --json streaming writer", () => {
  const casesDir = new URL("../../../conformance/cases/", import.meta.url).pathname;
  const cases = existsSync(casesDir) ? readdirSync(casesDir).filter((c) => existsSync(join(casesDir, c, "cow.img.gz"))) : [];

  it.runIf(cases.length > 0)("prints every accepted conformance image byte for byte as JSON.stringify of the dump object", () => {
    let compared = 0;
    for (const c of cases) {
      const meta = JSON.parse(readFileSync(join(casesDir, c, "case.json"), "utf8"));
      const bytes = new Uint8Array(gunzipSync(readFileSync(join(casesDir, c, "cow.img.gz"))));
      const table: ActivationOptions = meta.table?.chunkSize ? { tableChunkSize: meta.table.chunkSize } : {};
      let img: CowImage;
      try {
        img = decodeCow(bytesReader(bytes), table);
      } catch (e) {
        if (e instanceof FormatError) continue; // refusals print an error object, not this writer
        throw e;
      }
      expect(streamed(bytes, table), c).toBe(reference(img));
      expect(streamed(bytes, table, 1 << 20), c).toBe(reference(img));
      compared++;
    }
    expect(compared).toBeGreaterThan(50);
  });

  // Hand-written: the digits of each number, not computed by any code.
  const pairs: Array<[number, number]> = [
    [0, 2],
    [9, 10],
    [99, 100],
    [99999999, 100000000],
    [100000001, 4294967295],
    [4294967296, 4294967297],
    [9007199254740991, 3],
    [9007199254740990, 1000000000000000],
    [1234567890123456, 9007199254740989],
    [4294967295, 4294967294],
  ];
  const text =
    "[[0,2],[9,10],[99,100],[99999999,100000000],[100000001,4294967295],[4294967296,4294967297]," +
    "[9007199254740991,3],[9007199254740990,1000000000000000],[1234567890123456,9007199254740989],[4294967295,4294967294]]";

  it("prints chunk numbers at the digit, 2^32 and 2^53 edges exactly", () => {
    const bytes = buildCow({ chunkSize: 1, exceptions: pairs, deviceChunks: 3 }).bytes;
    const out = streamed(bytes, {}, 150);
    expect(out.endsWith(`"exceptions":${text}}\n`)).toBe(true);
    expect(out).toBe(reference(decodeCow(bytesReader(bytes))));
  });

  // The writer prints four digits per step (a 10^4 table) and splits at 10^8 and 10^12: every length from 1 to 16 digits, at each edge.
  const lengths: Array<[number, number]> = [
    [1, 10],
    [999, 1000],
    [9999, 10000],
    [10001, 99999],
    [100000, 1000000],
    [9999999, 10000000],
    [99999999, 100000000],
    [100000009, 1000000000],
    [9999999999, 10000000000],
    [99990000, 10000000001],
    [999999999999, 1000000000000],
    [1000000010000, 10000000000000],
    [99999999999999, 100000000000000],
    [999999999999999, 1000000000000000],
    [9007199254740991, 1000000000010001],
  ];
  const lengthsText =
    "[[1,10],[999,1000],[9999,10000],[10001,99999],[100000,1000000],[9999999,10000000],[99999999,100000000]," +
    "[100000009,1000000000],[9999999999,10000000000],[99990000,10000000001],[999999999999,1000000000000]," +
    "[1000000010000,10000000000000],[99999999999999,100000000000000],[999999999999999,1000000000000000],[9007199254740991,1000000000010001]]";

  it("prints numbers of every length from 1 to 16 digits exactly (the 10^4, 10^8 and 10^12 edges)", () => {
    const bytes = buildCow({ chunkSize: 1, exceptions: lengths, deviceChunks: 3 }).bytes;
    for (const size of [150, 1 << 20]) {
      const out = streamed(bytes, {}, size);
      expect(out.endsWith(`"exceptions":${lengthsText}}\n`)).toBe(true);
      expect(out).toBe(reference(decodeCow(bytesReader(bytes))));
    }
  });

  it("every buffer size near a flush: the 4-byte digit stores never spill past the buffer into the output", () => {
    // Short numbers (1-4 digits: stores that overrun the number's end) and long ones, across flushes at every offset.
    const mixed: Array<[number, number]> = [];
    for (let i = 0; i < 300; i++) mixed.push([i % 7 === 0 ? 4294967296 + i : i % 10, (i % 3 === 0 ? 9 : 12345) + i * 1000]);
    const bytes = buildCow({ chunkSize: 1, exceptions: mixed, deviceChunks: 4000 }).bytes;
    const expected = reference(decodeCow(bytesReader(bytes)));
    expect(expected).toContain(`"exceptions":[[4294967296,9],[1,13345],[2,14345],[3,3009],`);
    for (let size = 128; size < 170; size++) expect(streamed(bytes, {}, size), `buffer ${size}`).toBe(expected);
  });

  it("the built binary prints the same bytes (real file, 1 MiB buffer)", () => {
    const dir = tempDir();
    const cow = writeTemp(dir, "edges.img", buildCow({ chunkSize: 1, exceptions: pairs, deviceChunks: 3 }).bytes);
    const r = dmsnap("dump", cow, "--json");
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith(`"exceptions":${text}}\n`)).toBe(true);
    // Past 2^53 nothing is printed as a number: the entry is refused (docs/dump-json.md).
    const beyond = writeTemp(dir, "beyond.img", buildCow({ chunkSize: 1, exceptions: [[0, 2]], deviceChunks: 3 }).bytes);
    const b = readFileSync(beyond);
    b.writeUInt32LE(0x200000, 512 + 4); // old_chunk high word: 2^53
    writeTemp(dir, "beyond.img", b);
    const r2 = dmsnap("dump", beyond, "--json");
    expect(r2.status).toBe(1);
    expect(JSON.parse(r2.stdout).error.code).toBe("CHUNK_NUMBER_TOO_LARGE");
  });
});
