import { describe, expect, it } from "vitest";
import { bytesReader } from "./reader.js";
import { ExceptionTable } from "./exceptionTable.js";
import { metadataOfTable, readCowMetadata, type CowMetadata } from "./cowMetadata.js";
import { DumpTokenizer } from "./dumpTokenizer.js";
import { parseLosslessDump, writeLosslessDump } from "./losslessDump.js";
import { decodeCow } from "./activation.js";
import { buildCow } from "./build.js";
import { handCow } from "../test/handImage.js";

const SNAP = 0x70416e53;

/** Every entry the batches hand over, as pairs. */
function pairsOf(m: CowMetadata): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const { table, from, count } of m.batches()) for (let i = from; i < from + count; i++) out.push([table.oldChunk[i]!, table.newChunk[i]!]);
  return out;
}

function text(m: CowMetadata): string {
  let s = "";
  writeLosslessDump(m, (t) => (s += t));
  return s;
}

describe("the lossless dump, hand-written", () => {
  it("writes exactly the documented text (header line, one exception per line)", () => {
    const m = metadataOfTable(8192, { magic: SNAP, valid: 1, version: 1, chunkSize: 1 }, ExceptionTable.from([[7, 2], [4294967296, 3]]));
    expect(text(m)).toBe(
      '{"format":"dmsnap-dump","version":1,"deviceBytes":8192,"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},"exceptions":[\n[7,2],\n[4294967296,3]\n]}\n',
    );
    expect(text(metadataOfTable(4096, { magic: 0, valid: 0, version: 0, chunkSize: 0 }, new ExceptionTable(0)))).toBe(
      '{"format":"dmsnap-dump","version":1,"deviceBytes":4096,"header":{"magic":0,"valid":0,"version":0,"chunkSize":0},"exceptions":[]}\n',
    );
  });

  it("reads a dump written by hand: any key order and whitespace, unknown keys ignored, wide numbers", () => {
    const hand = `
      { "exceptions" : [ [ 10 , 2 ] ,[11,3],
        [9007199254740991,4] ] ,
        "header": {"chunkSize": 1, "version": 1, "valid": 0, "magic": 1883336275},
        "note": ["made", {"by": "hand"}], "deviceBytes": 65536, "version": 1, "format": "dmsnap-dump" }  `;
    const m = parseLosslessDump(hand);
    expect(m.deviceBytes).toBe(65536);
    expect(m.header).toEqual({ magic: SNAP, valid: 0, version: 1, chunkSize: 1 });
    expect(m.exceptionCount).toBe(3);
    expect(pairsOf(m)).toEqual([[10, 2], [11, 3], [9007199254740991, 4]]);
    // Iterating again parses again and gives the same entries.
    expect(pairsOf(m)).toEqual([[10, 2], [11, 3], [9007199254740991, 4]]);
  });

  it("reads a dump longer than one read piece (1 MiB), pairs cut at the piece boundary", () => {
    // 150,000 hand-formatted pairs of varying width: about 2.4 MB.
    const n = 150_000;
    const lines = Array.from({ length: n }, (_, i) => `[${i * 7},${i + 2}]`);
    const hand = `{"format":"dmsnap-dump","version":1,"deviceBytes":${(n + 10_000) * 4096},"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":8},"exceptions":[${lines.join(",")}]}`;
    const m = parseLosslessDump(hand);
    expect(m.exceptionCount).toBe(n);
    let k = 0;
    let batches = 0;
    for (const { table, from, count } of m.batches()) {
      batches++;
      for (let i = from; i < from + count; i++, k++) {
        if (table.oldChunk[i] !== k * 7 || table.newChunk[i] !== k + 2) throw new Error(`entry ${k}: ${table.oldChunk[i]} -> ${table.newChunk[i]}`);
      }
    }
    expect(k).toBe(n);
    expect(batches).toBeGreaterThan(1);
  });

  const head = (over: Record<string, unknown> = {}, exceptions: unknown = []): string =>
    JSON.stringify({ format: "dmsnap-dump", version: 1, deviceBytes: 8192, header: { magic: SNAP, valid: 1, version: 1, chunkSize: 1 }, ...over, exceptions });

  it.each([
    ["empty", "", /not JSON \(the dump ends before its object is complete\)/],
    ["not JSON", "{", /not JSON/],
    ["an array", "[]", /not JSON \(the dump must be one JSON object at byte 1\)/],
    ["two objects", `${head()} {}`, /unexpected text after the dump object/],
    ["a key given twice", '{"format":"dmsnap-dump","format":"dmsnap-dump"}', /key "format" appears twice at byte/],
    ["a 'dump --json' view", JSON.stringify({ header: {}, exceptions: [] }), /"format" is undefined/],
    ["version 2", head({ version: 2 }), /dump version 2 is not supported/],
    ["a device under one sector", head({ deviceBytes: 511 }), /"deviceBytes" must be/],
    ["a header word above 2^32", head({ header: { magic: SNAP, valid: 2 ** 32, version: 1, chunkSize: 1 } }), /32-bit unsigned/],
    ["a magic that is neither", head({ header: { magic: 1, valid: 1, version: 1, chunkSize: 1 } }), /neither "SnAp" nor 0/],
    ["chunk size 3", head({ header: { magic: SNAP, valid: 1, version: 1, chunkSize: 3 } }), /power of two/],
    ["disk version 2", head({ header: { magic: SNAP, valid: 1, version: 2, chunkSize: 1 } }), /header version 2 is not 1/],
    ["no exceptions array", head({}, 3), /"exceptions" must be an array/],
    ["exceptions missing", JSON.stringify({ format: "dmsnap-dump", version: 1, deviceBytes: 8192, header: { magic: SNAP, valid: 1, version: 1, chunkSize: 1 } }), /"exceptions" must be an array/],
    ["a single number", head({}, [[1]]), /exception 0 is not a pair/],
    ["three numbers", head({}, [[1, 2], [1, 2, 3]]), /exception 1 is not a pair/],
    ["a string", head({}, [["1", 2]]), /exception 0 is not a pair/],
    ["an object", head({}, [{ a: 1 }]), /exception 0 is not a pair/],
    ["a negative number", head({}, [[-1, 2]]), /exception 0 is not a pair/],
    ["a fraction", head({}, [[1.5, 2]]), /exception 0 is not a pair/],
    ["2^53", head({}, [[2 ** 53, 2]]), /exception 0 is not a pair of chunk numbers below 2\^53/],
    ["new_chunk 0", head({}, [[1, 0]]), /new_chunk 0/],
    ["a blank COW with entries", head({ header: { magic: 0, valid: 0, version: 0, chunkSize: 0 } }, [[1, 2]]), /blank COW \(magic 0\) has no exceptions/],
    ["areas past the end", head({ deviceBytes: 1024 }, Array.from({ length: 32 }, (_, i) => [i, i + 2])), /areas up to chunk 34/],
    ["a free cursor past 2^53", head({}, [[1, 2 ** 53 - 1]]), /free cursor beyond sector 2\^53/],
  ])("refuses a dump that is %s (DUMP_INVALID, before any entry is handed over)", (_name, input, why) => {
    let error: unknown;
    try {
      parseLosslessDump(input);
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: "DUMP_INVALID" });
    expect((error as Error).message).toMatch(why);
    expect((error as Error).message).toMatch(/give a file written by 'dmsnap dump --lossless'$/);
  });

  it("accepts a blank COW and an exactly full last area when the next area fits", () => {
    expect(parseLosslessDump(head({ header: { magic: 0, valid: 0, version: 0, chunkSize: 0 } })).exceptionCount).toBe(0);
    // Chunk size 1: 32 entries fill area 0 (chunk 1); area 1 (chunk 34) must exist: 35 chunks.
    const full = Array.from({ length: 32 }, (_, i) => [i, i + 2]);
    expect(parseLosslessDump(head({ deviceBytes: 35 * 512 }, full)).exceptionCount).toBe(32);
    expect(() => parseLosslessDump(head({ deviceBytes: 34 * 512 }, full))).toThrow(/up to chunk 34, but a 17408-byte device has 34 chunks/);
  });
});

describe("the tokenizer", () => {
  it("reports a syntax error with its byte offset, also across pieces", () => {
    const t = new DumpTokenizer({ onPair() {}, onBadPair() {} });
    t.push(new TextEncoder().encode('{"a":'));
    expect(() => t.push(new TextEncoder().encode(" ]"))).toThrow(/unexpected '\]' at byte 6/);
  });

  it("hands over each pair in order with its index, and bad elements by index", () => {
    const seen: string[] = [];
    const t = new DumpTokenizer({ onPair: (i, a, b) => seen.push(`${i}:${a}-${b}`), onBadPair: (i) => seen.push(`${i}:bad`) });
    for (const c of '{"exceptions":[[1,2],null,[3,4],[[5],6]],"x":1}') t.push(new TextEncoder().encode(c));
    expect(t.end()).toEqual({ fields: { exceptions: 4, x: 1 }, exceptions: 4 });
    expect(seen).toEqual(["0:1-2", "1:bad", "2:3-4", "3:bad"]);
  });
});

describe("CowMetadata from a device (readCowMetadata)", () => {
  it("hands over exactly the entries activation loads, batch by batch, and again on a second pass", () => {
    // Chunk size 1: 32 entries an area, so 70 entries span areas 0 (chunk 1), 1 (chunk 34) and 2 (chunk 67);
    // laid out by hand (not by the builder): data chunks 2..33, 35..66, 68..73.
    const built = handCow({ chunkSize: 1, chunks: 78, header: [SNAP, 0, 1, 1], entries: Array.from({ length: 70 }, (_, i) => 1000 + i) });
    const m = readCowMetadata(bytesReader(built.bytes), { readInvalid: true });
    expect(m.header.valid).toBe(0);
    expect(m.exceptionCount).toBe(70);
    expect(pairsOf(m)).toEqual(Array.from({ length: 70 }, (_, i) => [1000 + i, i < 32 ? 2 + i : i < 64 ? 3 + i : 4 + i]));
    expect(pairsOf(m)).toEqual(decodeCow(bytesReader(built.bytes), { readInvalid: true }).exceptions.toPairs());
    // Without readInvalid the kernel loads nothing from an invalidated COW.
    expect(pairsOf(readCowMetadata(bytesReader(built.bytes)))).toEqual([]);
  });

  it("refuses an image the kernel refuses before handing anything over", () => {
    const built = buildCow({ chunkSize: 1, exceptions: [5] });
    built.bytes[0] = 0xde;
    expect(() => readCowMetadata(bytesReader(built.bytes))).toThrow(expect.objectContaining({ code: "BAD_MAGIC" }));
  });
});
