/**
 * The tokenizer under hostile input: nesting, length and size extremes, inside
 * and outside "exceptions", cut into pieces anywhere. Whatever the input, it
 * either completes or throws DumpSyntaxError, and what it holds stays within
 * its bounds (frames, the carried token, the values kept outside
 * "exceptions"). The memory and time of a whole `restore` of a 48 MB hostile
 * dump are measured in packages/cli/test/restoreBounds.e2e.test.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DumpSyntaxError, DumpTokenizer, MAX_DEPTH } from "./dumpTokenizer.js";

const enc = new TextEncoder();
const HEAD = '{"format":"dmsnap-dump","version":1,"deviceBytes":8192,"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},';

/** The limits the tokenizer states (its own constants are not used as expected values). */
const DEPTH = 64;
const TOKEN = 65536;
const OTHER_BYTES = 1 << 20;

interface Internals {
  stack: unknown[];
  buf: Uint8Array;
}

/** Hostile JSON text of about `n` units (repetitive, so it is built in linear time). */
const SHAPES: Array<(n: number) => string> = [
  (n) => "[".repeat(n),
  (n) => "[1,".repeat(n),
  (n) => `[${"1,".repeat(n)}1]`,
  (n) => `[[${"1,".repeat(n)}1]]`,
  (n) => `[[${"[1],".repeat(n)}1]]`,
  (n) => '{"a":'.repeat(n),
  (n) => `{${Array.from({ length: Math.min(n, 20_000) }, (_, k) => `"k${k}":[{}]`).join(",")}}`,
  (n) => `"${"x".repeat(n)}"`,
  (n) => `"${"\\\\".repeat(n)}"`,
  (n) => "9".repeat(n),
  (n) => `[${'"abcdefgh",'.repeat(n)}1]`,
  (n) => `[${"[],".repeat(n)}[]]`,
];
const hostile = fc.tuple(fc.integer({ min: 0, max: SHAPES.length - 1 }), fc.integer({ min: 1, max: 300_000 })).map(([k, n]) => SHAPES[k]!(n));

/** Where the hostile text goes: as an element of "exceptions", as a field beside it, or as the whole input. */
const placed = fc.tuple(fc.constantFrom("element", "field", "alone"), hostile).map(([where, text]) =>
  where === "element" ? `${HEAD}"exceptions":[[1,2],${text}]}` : where === "field" ? `${HEAD}"x":${text},"exceptions":[[1,2]]}` : text,
);

describe("the tokenizer under hostile input (property)", () => {
  it("completes or throws DumpSyntaxError, holding at most 64 frames, one token and 1 MiB of other values", () => {
    fc.assert(
      fc.property(placed, fc.integer({ min: 4096, max: 1 << 20 }), (text, piece) => {
        const bytes = enc.encode(text);
        const t = new DumpTokenizer({ onPair() {}, onBadPair() {} });
        const inside = t as unknown as Internals;
        let maxFrames = 0;
        let maxCarry = 0;
        try {
          for (let at = 0; at < bytes.length; at += piece) {
            t.push(bytes.subarray(at, at + piece));
            maxFrames = Math.max(maxFrames, inside.stack.length);
            maxCarry = Math.max(maxCarry, inside.buf.length);
          }
          const root = t.end();
          expect(JSON.stringify(root.fields).length).toBeLessThanOrEqual(OTHER_BYTES * 2);
        } catch (e) {
          if (!(e instanceof DumpSyntaxError)) throw e;
        }
        expect(maxFrames).toBeLessThanOrEqual(DEPTH);
        expect(maxCarry).toBeLessThanOrEqual(TOKEN);
      }),
      { numRuns: 60 },
    );
  });

  it("agrees with JSON.parse on every value up to the depth limit, in pieces of any size, inside and outside exceptions", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 64 }), (value, piece) => {
        const text = JSON.stringify(value);
        const input = enc.encode(`${HEAD}"x":${text},"exceptions":[[1,2],${text},[3,4]]}`);
        const seen: string[] = [];
        const t = new DumpTokenizer({ onPair: (i, a, b) => seen.push(`${i}:${a}-${b}`), onBadPair: (i) => seen.push(`${i}:bad`) });
        for (let at = 0; at < input.length; at += piece) t.push(input.subarray(at, at + piece));
        const root = t.end();
        // JSON.parse turns -0 into -0 and keeps "__proto__" as a plain key: compare through the same parse.
        expect(root.fields.x).toEqual(JSON.parse(text));
        const pair = Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "number");
        expect(seen).toEqual(["0:1-2", pair ? `1:${(value as number[])[0]}-${(value as number[])[1]}` : "1:bad", "2:3-4"]);
      }),
      { numRuns: 200 },
    );
  });
});

describe("the tokenizer's bounds (examples)", () => {
  const run = (text: string): unknown => {
    const t = new DumpTokenizer({ onPair() {}, onBadPair() {} });
    try {
      t.push(enc.encode(text));
      return t.end();
    } catch (e) {
      return e;
    }
  };

  it("exports the depth the docs state", () => {
    expect(MAX_DEPTH).toBe(DEPTH);
  });

  it("accepts 64 levels and refuses the 65th, inside and outside exceptions, at the byte that opens it", () => {
    const nest = (d: number): string => "[".repeat(d) + "]".repeat(d);
    // The root object and "exceptions" are 2 levels; the pair is the 3rd.
    expect(run(`${HEAD}"exceptions":[${nest(62)}]}`)).not.toBeInstanceOf(Error);
    expect(run(`${HEAD}"x":${nest(63)},"exceptions":[]}`)).not.toBeInstanceOf(Error);
    const deep = run(`${HEAD}"exceptions":[${nest(63)}]}`) as Error;
    expect(deep).toBeInstanceOf(DumpSyntaxError);
    expect(deep.message).toBe(`arrays and objects nested more than 64 deep at byte ${HEAD.length + 14 + 62}`);
    expect((run(`${HEAD}"x":${nest(64)},"exceptions":[]}`) as Error).message).toMatch(/nested more than 64 deep/);
  });

  it("refuses a token longer than 64 KiB even when it arrives in one piece", () => {
    expect((run(`${HEAD}"exceptions":[["${"x".repeat(TOKEN)}"]]}`) as Error).message).toMatch(/a string longer than 65536 bytes/);
    expect((run(`${HEAD}"exceptions":[[${"1".repeat(TOKEN + 1)}]]}`) as Error).message).toMatch(/a value longer than 65536 bytes/);
    // Exactly 64 KiB with its quotes is still a token.
    expect(run(`${HEAD}"x":"${"x".repeat(TOKEN - 2)}","exceptions":[]}`)).not.toBeInstanceOf(Error);
  });

  it("reads integers of more than 15 digits as JSON.parse does (one rounding, not one per digit)", () => {
    const text = "[1712350607276447500,9007199254740993,12345678901234567890]";
    expect((run(`${HEAD}"x":${text},"exceptions":[]}`) as { fields: { x: unknown } }).fields.x).toEqual(JSON.parse(text));
  });

  it("refuses more than 1 MiB of values outside exceptions (keys count)", () => {
    const keys = Array.from({ length: 40 }, (_, k) => `"${String(k).padStart(30_000, "k")}":1`).join(",");
    expect((run(`${HEAD}${keys},"exceptions":[]}`) as Error).message).toMatch(/more than 1048576 bytes of values outside "exceptions"/);
  });
});
