/**
 * A streaming reader of lossless dumps: the file is read in 1 MiB pieces and
 * tokenised as it goes, so a 30 M-exception dump (600 MB of JSON, more than a
 * V8 string can hold) is read in constant memory. The exceptions array is
 * handed to `onPair` pair by pair; every other value is small and is built
 * as usual (capped, so a hostile dump cannot make it large).
 */
import { readSync } from "node:fs";

const PIECE = 1 << 20;
/** Bytes of any one value outside the exceptions array (strings, numbers). */
const MAX_TOKEN = 1 << 16;
/** Tokens outside the exceptions array. */
const MAX_OTHER_TOKENS = 100_000;

export class DumpSyntaxError extends Error {}

export interface ParseEvents {
  /** The i-th exception: a pair of numbers (or `bad` describing why it is not one). */
  onPair(i: number, old: number, neu: number): void;
  onBadPair(i: number): void;
}

type Frame =
  | { kind: "obj"; value: Record<string, unknown>; state: "key0" | "key" | "colon" | "value" | "next"; key: string }
  | { kind: "arr"; value: unknown[]; state: "value0" | "value" | "next" }
  | { kind: "exc"; count: number; state: "value0" | "value" | "next" }
  | { kind: "pair"; n: number; a: number; b: number; ok: boolean; state: "value0" | "value" | "next" };

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;
const NUMBER_RE = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

/**
 * Parses the dump in the open file `fd` from its start (a regular file: the
 * caller spools standard input first). Returns the top-level object with
 * `exceptions` replaced by the number of elements it held. Throws
 * DumpSyntaxError with the reason.
 */
export function parseDumpStream(fd: number, events: ParseEvents): DumpRoot {
  const pieces = parseDumpPieces(fd, events);
  for (;;) {
    const r = pieces.next();
    if (r.done) return r.value;
  }
}

export type DumpRoot = Record<string, unknown> & { exceptions?: number };

/**
 * The same parse as a generator that pauses after each 1 MiB piece, so a
 * caller can write out the pairs of one piece (asynchronously) before the next.
 */
export function* parseDumpPieces(fd: number, events: ParseEvents): Generator<void, DumpRoot, void> {
  const stack: Frame[] = [];
  let root: Record<string, unknown> | null = null;
  let done = false;
  let others = 0;
  let offset = 0; // file offset of buf[0]
  let buf = Buffer.alloc(0);
  let eof = false;
  let filePos = 0;
  const fail = (msg: string, at: number): never => {
    throw new DumpSyntaxError(`${msg} at byte ${offset + at}`);
  };

  /** A complete value arrived (scalar, or a closed container) for the frame on top. */
  const deliver = (v: unknown, at: number): void => {
    const top = stack[stack.length - 1];
    if (!top) {
      if (root !== null || typeof v !== "object" || v === null || Array.isArray(v)) fail("the dump must be one JSON object", at);
      root = v as Record<string, unknown>;
      done = true;
      return;
    }
    if (top.kind === "obj") {
      if (top.state !== "value") fail("unexpected value", at);
      if (Object.prototype.hasOwnProperty.call(top.value, top.key)) fail(`key "${top.key}" appears twice`, at);
      top.value[top.key] = v;
      top.state = "next";
    } else if (top.kind === "arr") {
      if (top.state === "next") fail("expected ',' or ']'", at);
      top.value.push(v);
      top.state = "next";
    } else if (top.kind === "exc") {
      if (top.state === "next") fail("expected ',' or ']'", at);
      // Not a pair (a scalar or object where [old, new] belongs).
      events.onBadPair(top.count++);
      top.state = "next";
    } else {
      if (top.state === "next") fail("expected ',' or ']'", at);
      if (typeof v === "number" && top.n < 2) {
        if (top.n === 0) top.a = v;
        else top.b = v;
      } else top.ok = false;
      top.n++;
      top.state = "next";
    }
  };

  const countOther = (at: number): void => {
    if (stack.some((f) => f.kind === "exc" || f.kind === "pair")) return;
    if (++others > MAX_OTHER_TOKENS) fail(`more than ${MAX_OTHER_TOKENS} values outside "exceptions"`, at);
  };

  for (;;) {
    if (!eof) {
      const piece = Buffer.allocUnsafe(PIECE);
      const n = readSync(fd, piece, 0, PIECE, filePos);
      filePos += n;
      if (n === 0) eof = true;
      buf = buf.length === 0 ? piece.subarray(0, n) : Buffer.concat([buf, piece.subarray(0, n)]);
    }
    let i = 0;
    const len = buf.length;
    scan: while (i < len) {
      const c = buf[i]!;
      if (WS[c]) {
        i++;
        continue;
      }
      if (done) fail("unexpected text after the dump object", i);
      const top = stack[stack.length - 1];
      switch (c) {
        case 0x7b: {
          // {
          if (top && top.kind !== "obj" && top.state === "next") fail("expected ',' or ']'", i);
          if (top?.kind === "exc" || top?.kind === "pair") {
            // An object where a pair or a number belongs: skip it generically but count it bad.
            stack.push({ kind: "obj", value: {}, state: "key0", key: "" });
          } else {
            countOther(i);
            if (top?.kind === "obj" && top.state !== "value") fail("unexpected '{'", i);
            stack.push({ kind: "obj", value: {}, state: "key0", key: "" });
          }
          i++;
          continue;
        }
        case 0x5b: {
          // [
          if (top?.kind === "obj" && top.state !== "value") fail("unexpected '['", i);
          if ((top?.kind === "arr" || top?.kind === "exc" || top?.kind === "pair") && top.state === "next") fail("expected ',' or ']'", i);
          if (top?.kind === "obj" && stack.length === 1 && top.key === "exceptions") {
            if (Object.prototype.hasOwnProperty.call(top.value, "exceptions")) fail(`key "exceptions" appears twice`, i);
            stack.push({ kind: "exc", count: 0, state: "value0" });
          } else if (top?.kind === "exc") stack.push({ kind: "pair", n: 0, a: 0, b: 0, ok: true, state: "value0" });
          else if (top?.kind === "pair") {
            top.ok = false;
            stack.push({ kind: "arr", value: [], state: "value0" });
          } else {
            countOther(i);
            stack.push({ kind: "arr", value: [], state: "value0" });
          }
          i++;
          continue;
        }
        case 0x7d: {
          // }
          if (top?.kind !== "obj" || (top.state !== "key0" && top.state !== "next")) return fail("unexpected '}'", i);
          stack.pop();
          deliver(top.value, i);
          i++;
          continue;
        }
        case 0x5d: {
          // ]
          if (!top || top.kind === "obj" || top.state === "value") return fail("unexpected ']'", i);
          stack.pop();
          if (top.kind === "arr") deliver(top.value, i);
          else if (top.kind === "pair") {
            const parent = stack[stack.length - 1];
            if (parent?.kind === "exc") {
              const idx = parent.count++;
              if (top.ok && top.n === 2) events.onPair(idx, top.a, top.b);
              else events.onBadPair(idx);
              parent.state = "next";
            } else deliver(null, i);
          } else {
            // The exceptions array closes: record its length in place of the array.
            const parent = stack[stack.length - 1] as Extract<Frame, { kind: "obj" }>;
            parent.value.exceptions = top.count;
            parent.state = "next";
          }
          i++;
          continue;
        }
        case 0x2c: {
          // ,
          if (!top || top.state !== "next") return fail("unexpected ','", i);
          if (top.kind === "obj") top.state = "key";
          else top.state = "value";
          i++;
          continue;
        }
        case 0x3a: {
          // :
          if (top?.kind !== "obj" || top.state !== "colon") return fail("unexpected ':'", i);
          top.state = "value";
          i++;
          continue;
        }
        case 0x22: {
          // a string: find its end (a quote not escaped)
          let j = i + 1;
          while (j < len && buf[j] !== 0x22) j += buf[j] === 0x5c ? 2 : 1;
          if (j >= len) {
            if (eof) fail("unterminated string", i);
            if (len - i > MAX_TOKEN) fail(`a string longer than ${MAX_TOKEN} bytes`, i);
            break scan;
          }
          let s: string;
          try {
            s = JSON.parse(buf.toString("utf8", i, j + 1)) as string;
          } catch {
            return fail("bad string", i);
          }
          if (top?.kind === "obj" && (top.state === "key0" || top.state === "key")) {
            top.key = s;
            top.state = "colon";
          } else {
            countOther(i);
            deliver(s, i);
          }
          i = j + 1;
          continue;
        }
        default: {
          // a number or literal: the run of bytes up to a delimiter
          let j = i;
          let v = 0;
          let digits = true;
          while (j < len) {
            const d = buf[j]!;
            if (d >= 0x30 && d <= 0x39) v = v * 10 + (d - 0x30);
            else if (d === 0x2c || d === 0x5d || d === 0x7d || WS[d]) break;
            else digits = false;
            j++;
          }
          if (j >= len && !eof) {
            if (len - i > MAX_TOKEN) fail("a value that is too long", i);
            break scan;
          }
          let value: unknown;
          if (digits && j > i && (buf[i] !== 0x30 || j === i + 1)) value = v;
          else {
            const text = buf.toString("latin1", i, j);
            if (text === "true") value = true;
            else if (text === "false") value = false;
            else if (text === "null") value = null;
            else if (NUMBER_RE.test(text)) value = Number(text);
            else fail(`unexpected '${text.slice(0, 20)}'`, i);
          }
          if (top?.kind === "obj" && top.state !== "value") fail("expected a key", i);
          if (top?.kind !== "pair" && top?.kind !== "exc") countOther(i);
          deliver(value, i);
          i = j;
          continue;
        }
      }
    }
    offset += i;
    buf = buf.subarray(i);
    if (eof) {
      if (buf.length > 0) fail("unexpected end of the dump", 0);
      break;
    }
    yield;
  }
  if (!done || root === null) throw new DumpSyntaxError(`the dump ends before its object is complete`);
  return root as DumpRoot;
}
