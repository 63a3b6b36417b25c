/**
 * The exceptions array as a real dump spells it, a pair a line: the
 * tokenizer reads a whole pair of plain numbers in place (no frame per
 * pair), and falls back to its token-by-token scan, with every check, for
 * anything else. Both must deliver exactly what JSON.parse reads, in pieces
 * of any size, pushed (joined to the cut token) or pushed again (re-read from
 * `consumed`, as readLosslessDump reads a file).
 */
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { DumpSyntaxError, DumpTokenizer } from "./dumpTokenizer.js";

const enc = new TextEncoder();
const HEAD = '{"format":"dmsnap-dump","version":1,"deviceBytes":8192,"header":{"magic":1883336275,"valid":1,"version":1,"chunkSize":1},';

const ws = fc.constantFrom("", "", "", " ", "\n", "\t", "\r\n  ");
/** Number spellings: plain, the largest exact ones, more than 15 digits, and what JSON refuses or reads as non-integers. */
const num = fc.oneof(
  { weight: 6, arbitrary: fc.nat().map(String) },
  { weight: 2, arbitrary: fc.constantFrom("0", "1", "999999999999999", "100000000000000", "9007199254740991", "9007199254740993", "1234567890123456789012") },
  { weight: 2, arbitrary: fc.constantFrom("01", "00", "-1", "-0", "1.5", "1e3", "2E+2", "1.", ".5", "12x", "1-", "true", "null", "\"7\"", "[]", "{}", "[1]") },
);
/** One element of "exceptions": mostly a pair, sometimes one or three values, with any whitespace between the tokens. */
const element = fc
  .tuple(ws, fc.array(fc.tuple(ws, num, ws), { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 9 }))
  .map(([lead, values, shape]) => (shape === 0 ? `${lead}${values[0]![1]}` : `${lead}[${values.map(([a, v, b]) => `${a}${v}${b}`).join(",")}]`));
const dumpText = fc.array(element, { maxLength: 40 }).map((els) => `${HEAD}"exceptions":[${els.join(",\n")}]}`);

/** What JSON.parse says the events are, or "syntax" when it refuses the text. */
function expected(text: string): string[] | "syntax" {
  let root: { exceptions: unknown[] };
  try {
    root = JSON.parse(text) as { exceptions: unknown[] };
  } catch {
    return "syntax";
  }
  return root.exceptions.map((e, i) => (Array.isArray(e) && e.length === 2 && e.every((v) => typeof v === "number") ? `${i}:${e[0]}-${e[1]}` : `${i}:bad`));
}

function events(): { seen: string[]; t: DumpTokenizer } {
  const seen: string[] = [];
  // A bad element is reported once, as soon as it is known: keep the first report of each index.
  const t = new DumpTokenizer({ onPair: (i, a, b) => seen.push(`${i}:${a}-${b}`), onBadPair: (i) => seen.push(`${i}:bad`) });
  return { seen, t };
}

/** Pushes `input` in pieces of `piece` bytes; the events, or "syntax". */
function pushed(input: Uint8Array, piece: number): string[] | "syntax" {
  const { seen, t } = events();
  try {
    for (let at = 0; at < input.length; at += piece) t.push(input.subarray(at, at + piece));
    t.end();
  } catch (e) {
    if (e instanceof DumpSyntaxError) return "syntax";
    throw e;
  }
  return seen;
}

/** Reads `input` as readLosslessDump reads a file: each piece starts at `consumed`, a fresh copy each time (the reader reuses its buffer). */
function pushedAgain(input: Uint8Array, piece: number): string[] | "syntax" {
  const { seen, t } = events();
  try {
    for (let at = 0; at < input.length; at = t.consumed) {
      const n = Math.min(piece, input.length - at);
      t.pushAgain(input.slice(at, at + n));
      if (at + n === input.length) break;
      expect(t.consumed).toBeGreaterThan(at);
    }
    t.end();
  } catch (e) {
    if (e instanceof DumpSyntaxError) return "syntax";
    throw e;
  }
  return seen;
}

describe("pairs of plain numbers, read in place", () => {
  it("deliver what JSON.parse reads, whatever the spelling and wherever the pieces are cut (property)", () => {
    fc.assert(
      fc.property(dumpText, fc.integer({ min: 1, max: 64 }), fc.integer({ min: 32, max: 256 }), (text, piece, again) => {
        const input = enc.encode(text);
        const want = expected(text);
        expect(pushed(input, input.length)).toEqual(want);
        expect(pushed(input, piece)).toEqual(want);
        expect(pushedAgain(input, again)).toEqual(want);
      }),
      { numRuns: 400 },
    );
  });

  it("open no frame per pair: a 100,000-pair dump opens the root object, the header and the array only", () => {
    const lines = Array.from({ length: 100_000 }, (_, i) => `[${i * 7919},${i + 2}]`);
    const input = enc.encode(`${HEAD}"exceptions":[\n${lines.join(",\n")}\n]}`);
    const open = vi.spyOn(DumpTokenizer.prototype as unknown as { open: () => void }, "open");
    try {
      let n = 0;
      const t = new DumpTokenizer({ onPair: () => void n++, onBadPair: () => {} });
      for (let at = 0; at < input.length; at += 1 << 16) t.push(input.subarray(at, at + (1 << 16)));
      t.end();
      expect(n).toBe(100_000);
      // The pairs cut by a piece boundary go through the general scan (a frame each): at most one a piece.
      expect(open.mock.calls.length).toBeLessThanOrEqual(3 + Math.ceil(input.length / (1 << 16)));
    } finally {
      open.mockRestore();
    }
  });

  it("pushAgain keeps no piece: after a piece that ends between tokens nothing is carried, after a cut token only that token", () => {
    const t = new DumpTokenizer({ onPair() {}, onBadPair() {} });
    const inside = t as unknown as { buf: Uint8Array };
    const first = enc.encode(`${HEAD}"exceptions":[[1,2],`);
    t.pushAgain(first);
    expect(inside.buf.length).toBe(0);
    expect(t.consumed).toBe(first.length);
    t.pushAgain(enc.encode("[12345,678"));
    // The pair is cut in its second number: the scan stops at that number, which is all it keeps.
    expect(t.consumed).toBe(first.length + "[12345,".length);
    expect(inside.buf.length).toBe(3);
  });
});
