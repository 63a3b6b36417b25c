/**
 * A streaming reader of the lossless dump's JSON: bytes are pushed a piece at
 * a time and tokenised as they come, so a 30 M-exception dump (600 MB of
 * JSON, more than a V8 string can hold) is read in constant memory. The
 * exceptions array is handed to `onPair` pair by pair; every other value is
 * small and is built as usual (capped, so a hostile dump cannot make it
 * large). No I/O: the caller pushes the bytes (readLosslessDump does so from
 * a SyncReader).
 *
 * Bounds, for any input: memory is at most MAX_DEPTH frames, one cut token
 * (MAX_TOKEN) beside the piece being pushed, and the values outside
 * "exceptions" (MAX_OTHER_TOKENS, MAX_OTHER_BYTES); anything nested inside an
 * element of "exceptions" is checked for syntax but never kept (it only makes
 * the element "not a pair"). Time is linear: each byte is looked at a bounded
 * number of times (a token cut by a piece boundary is carried and rescanned
 * once per push: at most MAX_TOKEN bytes a push, so linear for pieces of at
 * least MAX_TOKEN bytes; readLosslessDump pushes 1 MiB).
 */

/** Bytes of any one token (a string, number or literal), anywhere. */
const MAX_TOKEN = 1 << 16;
/** Tokens outside the exceptions array. */
const MAX_OTHER_TOKENS = 100_000;
/** Bytes of the strings (keys included) and numbers outside the exceptions array. */
const MAX_OTHER_BYTES = 1 << 20;
/** Open arrays and objects at once: a lossless dump nests 3 deep (object, "exceptions", pair). */
export const MAX_DEPTH = 64;

export class DumpSyntaxError extends Error {
  override readonly name = "DumpSyntaxError";
}

export interface DumpEvents {
  /** The i-th element of "exceptions" is a pair of numbers. */
  onPair(i: number, old: number, neu: number): void;
  /** The i-th element of "exceptions" is not a pair of numbers: called once, as soon as that is known (before the element ends). */
  onBadPair(i: number): void;
}

/** The top-level object (its "exceptions" array replaced by its length), and that length: null when "exceptions" is missing or not an array. */
export interface DumpRoot {
  fields: Record<string, unknown>;
  exceptions: number | null;
}

/** An "obj" or "arr" whose value is null lies inside an element of "exceptions": its syntax is checked, its contents are not kept. */
type Frame =
  | { kind: "obj"; value: Record<string, unknown> | null; state: "key0" | "key" | "colon" | "value" | "next"; key: string }
  | { kind: "arr"; value: unknown[] | null; state: "value0" | "value" | "next" }
  | { kind: "exc"; count: number; state: "value0" | "value" | "next" }
  | { kind: "pair"; n: number; a: number; b: number; ok: boolean; state: "value0" | "value" | "next" };

const WS = new Uint8Array(256);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;
const NUMBER_RE = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const UTF8 = new TextDecoder();
const EMPTY = new Uint8Array(0);
/** What a closed container inside "exceptions" delivers: its element was reported bad when it opened. */
const REPORTED = Symbol("reported");

function latin1(b: Uint8Array, from: number, to: number): string {
  let s = "";
  for (let k = from; k < to; k++) s += String.fromCharCode(b[k]!);
  return s;
}

/** Where plainPair leaves the pair's numbers (module scope: no object per pair). */
let pairOld = 0;
let pairNew = 0;

/**
 * `[` ws digits ws `,` ws digits ws `]` starting at buf[i] (the `[`), all of
 * it before `len`: returns the index after the `]` and leaves the numbers in
 * pairOld and pairNew; 0 for anything else (a cut pair, another spelling, a
 * syntax error), which the general scan then reads token by token with every
 * check. The numbers are exactly what the general scan would deliver: 1 to 15
 * digits without a leading zero, so the running sum is exact; a number must
 * end at whitespace or the pair's `,` or `]`, so "1.5", "1e3" or "12x" falls
 * back.
 */
function plainPair(buf: Uint8Array, i: number, len: number): number {
  let k = i + 1;
  while (k < len && WS[buf[k]!]) k++;
  let from = k;
  let a = 0;
  while (k < len) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) break;
    a = a * 10 + d;
    k++;
  }
  if (k === from || k - from > 15 || (k - from > 1 && buf[from] === 0x30)) return 0;
  while (k < len && WS[buf[k]!]) k++;
  if (k >= len || buf[k] !== 0x2c) return 0;
  k++;
  while (k < len && WS[buf[k]!]) k++;
  from = k;
  let b = 0;
  while (k < len) {
    const d = buf[k]! - 0x30;
    if (d < 0 || d > 9) break;
    b = b * 10 + d;
    k++;
  }
  if (k === from || k - from > 15 || (k - from > 1 && buf[from] === 0x30)) return 0;
  while (k < len && WS[buf[k]!]) k++;
  if (k >= len || buf[k] !== 0x5d) return 0;
  pairOld = a;
  pairNew = b;
  return k + 1;
}

/** Push the dump's bytes in order, then call end(). Throws DumpSyntaxError with the reason and byte offset. */
export class DumpTokenizer {
  private readonly stack: Frame[] = [];
  private root: Record<string, unknown> | null = null;
  /** Length of the top-level "exceptions" array, once it has closed. */
  private exceptionsLength: number | null = null;
  private done = false;
  private others = 0;
  private otherBytes = 0;
  /** Stream offset of buf[0]. */
  private offset = 0;
  /** Bytes not yet consumed: the start of a token cut by a piece boundary. */
  private buf: Uint8Array = EMPTY;

  constructor(private readonly events: DumpEvents) {}

  /** Takes the next piece. `bytes` is not kept after the call. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.buf.length === 0) this.buf = bytes;
    else {
      const joined = new Uint8Array(this.buf.length + bytes.length);
      joined.set(this.buf);
      joined.set(bytes, this.buf.length);
      this.buf = joined;
    }
    this.scan(false);
  }

  /** Stream offset of the first byte not yet consumed (where a token cut by the last piece starts). */
  get consumed(): number {
    return this.offset;
  }

  /**
   * push() for a caller that can read its source again: `bytes` starts at
   * stream offset `consumed`, so it holds the cut token again, and takes its
   * place instead of being appended to a copy of it (no 1 MiB join a piece).
   */
  pushAgain(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.buf = bytes;
    this.scan(false);
  }

  /** The input is complete: returns the top-level object. */
  end(): DumpRoot {
    this.scan(true);
    if (this.buf.length > 0) this.fail("unexpected end of the dump", 0);
    if (!this.done || this.root === null) throw new DumpSyntaxError(`the dump ends before its object is complete`);
    return { fields: this.root, exceptions: this.exceptionsLength };
  }

  private fail(msg: string, at: number): never {
    throw new DumpSyntaxError(`${msg} at byte ${this.offset + at}`);
  }

  /** A complete value arrived (scalar, or a closed container) for the frame on top. */
  private deliver(v: unknown, at: number): void {
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (this.root !== null || typeof v !== "object" || v === null || Array.isArray(v)) this.fail("the dump must be one JSON object", at);
      this.root = v as Record<string, unknown>;
      this.done = true;
      return;
    }
    if (top.kind === "obj") {
      if (top.state !== "value") this.fail("unexpected value", at);
      if (top.value !== null) {
        if (Object.prototype.hasOwnProperty.call(top.value, top.key)) this.fail(`key "${top.key}" appears twice`, at);
        // An own property whatever the key: a "__proto__" key must not set the object's prototype (JSON.parse keeps it as data).
        Object.defineProperty(top.value, top.key, { value: v, enumerable: true, writable: true, configurable: true });
      }
      top.state = "next";
    } else if (top.kind === "arr") {
      if (top.state === "next") this.fail("expected ',' or ']'", at);
      top.value?.push(v);
      top.state = "next";
    } else if (top.kind === "exc") {
      if (top.state === "next") this.fail("expected ',' or ']'", at);
      // Not a pair (a scalar or object where [old, new] belongs); an object was reported when it opened.
      if (v === REPORTED) top.count++;
      else this.events.onBadPair(top.count++);
      top.state = "next";
    } else {
      if (top.state === "next") this.fail("expected ',' or ']'", at);
      if (typeof v === "number" && top.n < 2) {
        if (top.n === 0) top.a = v;
        else top.b = v;
      } else this.spoil(top);
      top.n++;
      top.state = "next";
    }
  }

  /** The open pair is not a pair of numbers: reported at once (a first pass stops here, not at its far end). */
  private spoil(pair: Extract<Frame, { kind: "pair" }>): void {
    if (!pair.ok) return;
    pair.ok = false;
    this.events.onBadPair((this.stack[1] as Extract<Frame, { kind: "exc" }>).count);
  }

  /** A container opens inside "exceptions": the element holding it is not a pair. */
  private spoilElement(top: Frame): void {
    if (top.kind === "exc") this.events.onBadPair(top.count);
    else if (top.kind === "pair") this.spoil(top);
  }

  /** Whether the scan is inside the top-level "exceptions" array (which is always the second frame). */
  private inExceptions(): boolean {
    return this.stack.length > 1 && this.stack[1]!.kind === "exc";
  }

  /** A token or container outside "exceptions", of `bytes` bytes: kept, so counted against the caps. */
  private countOther(at: number, bytes: number): void {
    if (this.inExceptions()) return;
    if (++this.others > MAX_OTHER_TOKENS) this.fail(`more than ${MAX_OTHER_TOKENS} values outside "exceptions"`, at);
    if ((this.otherBytes += bytes) > MAX_OTHER_BYTES) this.fail(`more than ${MAX_OTHER_BYTES} bytes of values outside "exceptions"`, at);
  }

  /** Opens a container, refusing nesting deeper than MAX_DEPTH (a real dump nests 3 deep). */
  private open(frame: Frame, at: number): void {
    if (this.stack.length >= MAX_DEPTH) this.fail(`arrays and objects nested more than ${MAX_DEPTH} deep`, at);
    this.stack.push(frame);
  }

  /** Consumes every complete token of buf (all of it when `eof`). */
  private scan(eof: boolean): void {
    const buf = this.buf;
    const stack = this.stack;
    let i = 0;
    const len = buf.length;
    scan: while (i < len) {
      const c = buf[i]!;
      if (WS[c]) {
        i++;
        continue;
      }
      if (this.done) this.fail("unexpected text after the dump object", i);
      const top = stack[stack.length - 1];
      switch (c) {
        case 0x7b: {
          // {
          if (top && top.kind !== "obj" && top.state === "next") this.fail("expected ',' or ']'", i);
          if (top?.kind === "obj" && top.state !== "value") this.fail("unexpected '{'", i);
          if (this.inExceptions()) {
            // An object where a pair or a number belongs (or inside one): checked, not kept; the element is bad.
            this.spoilElement(top!);
            this.open({ kind: "obj", value: null, state: "key0", key: "" }, i);
          } else {
            this.countOther(i, 1);
            this.open({ kind: "obj", value: {}, state: "key0", key: "" }, i);
          }
          i++;
          continue;
        }
        case 0x5b: {
          // [
          if (top?.kind === "obj" && top.state !== "value") this.fail("unexpected '['", i);
          if ((top?.kind === "arr" || top?.kind === "exc" || top?.kind === "pair") && top.state === "next") this.fail("expected ',' or ']'", i);
          if (top?.kind === "exc" && top.state !== "next") {
            // The common case, a whole pair of plain numbers in this piece: read it
            // in place, without a frame (a 30 M-exception dump is 30 M of them).
            let end = plainPair(buf, i, len);
            if (end > 0) {
              const events = this.events;
              let count = top.count;
              // And the plain pairs that follow (", [a, b]"), without going round the token loop.
              for (;;) {
                events.onPair(count++, pairOld, pairNew);
                i = end;
                let k = i;
                while (k < len && WS[buf[k]!]) k++;
                if (k >= len || buf[k] !== 0x2c) break;
                k++;
                while (k < len && WS[buf[k]!]) k++;
                if (k >= len || buf[k] !== 0x5b) break;
                end = plainPair(buf, k, len);
                if (end === 0) break;
              }
              top.count = count;
              top.state = "next";
              continue;
            }
          }
          if (top?.kind === "obj" && stack.length === 1 && top.key === "exceptions") {
            if (Object.prototype.hasOwnProperty.call(top.value!, "exceptions")) this.fail(`key "exceptions" appears twice`, i);
            this.open({ kind: "exc", count: 0, state: "value0" }, i);
          } else if (top?.kind === "exc") this.open({ kind: "pair", n: 0, a: 0, b: 0, ok: true, state: "value0" }, i);
          else if (this.inExceptions()) {
            // An array inside an element: checked, not kept; the element is bad.
            this.spoilElement(top!);
            this.open({ kind: "arr", value: null, state: "value0" }, i);
          } else {
            this.countOther(i, 1);
            this.open({ kind: "arr", value: [], state: "value0" }, i);
          }
          i++;
          continue;
        }
        case 0x7d: {
          // }
          if (top?.kind !== "obj" || (top.state !== "key0" && top.state !== "next")) return this.fail("unexpected '}'", i);
          stack.pop();
          this.deliver(top.value ?? REPORTED, i);
          i++;
          continue;
        }
        case 0x5d: {
          // ]
          if (!top || top.kind === "obj" || top.state === "value") return this.fail("unexpected ']'", i);
          stack.pop();
          if (top.kind === "arr") this.deliver(top.value ?? REPORTED, i);
          else if (top.kind === "pair") {
            const parent = stack[stack.length - 1];
            if (parent?.kind === "exc") {
              const idx = parent.count++;
              if (top.ok && top.n === 2) this.events.onPair(idx, top.a, top.b);
              else if (top.ok) this.events.onBadPair(idx);
              parent.state = "next";
            } else this.deliver(null, i);
          } else {
            // The exceptions array closes: record its length in place of the array.
            const parent = stack[stack.length - 1] as Extract<Frame, { kind: "obj" }>;
            parent.value!.exceptions = top.count;
            this.exceptionsLength = top.count;
            parent.state = "next";
          }
          i++;
          continue;
        }
        case 0x2c: {
          // ,
          if (!top || top.state !== "next") return this.fail("unexpected ','", i);
          if (top.kind === "obj") top.state = "key";
          else top.state = "value";
          i++;
          continue;
        }
        case 0x3a: {
          // :
          if (top?.kind !== "obj" || top.state !== "colon") return this.fail("unexpected ':'", i);
          top.state = "value";
          i++;
          continue;
        }
        case 0x22: {
          // a string: find its end (a quote not escaped)
          let j = i + 1;
          const stop = Math.min(len, i + MAX_TOKEN);
          while (j < stop && buf[j] !== 0x22) j += buf[j] === 0x5c ? 2 : 1;
          if (j >= stop) {
            if (stop < len || len - i >= MAX_TOKEN) this.fail(`a string longer than ${MAX_TOKEN} bytes`, i);
            if (eof) this.fail("unterminated string", i);
            break scan;
          }
          let s: string;
          try {
            s = JSON.parse(UTF8.decode(buf.subarray(i, j + 1))) as string;
          } catch {
            return this.fail("bad string", i);
          }
          this.countOther(i, j + 1 - i);
          if (top?.kind === "obj" && (top.state === "key0" || top.state === "key")) {
            top.key = s;
            top.state = "colon";
          } else this.deliver(s, i);
          i = j + 1;
          continue;
        }
        default: {
          // a number or literal: the run of bytes up to a delimiter
          let j = i;
          let v = 0;
          let digits = true;
          const stop = Math.min(len, i + MAX_TOKEN);
          while (j < stop) {
            const d = buf[j]!;
            if (d >= 0x30 && d <= 0x39) v = v * 10 + (d - 0x30);
            else if (d === 0x2c || d === 0x5d || d === 0x7d || WS[d]) break;
            else digits = false;
            j++;
          }
          if (j >= stop && (stop < len || len - i >= MAX_TOKEN)) this.fail(`a value longer than ${MAX_TOKEN} bytes`, i);
          if (j >= len && !eof) break scan;
          let value: unknown;
          // Up to 15 digits the running sum is exact; longer numbers are rounded once, as JSON.parse does.
          if (digits && j > i && j - i <= 15 && (buf[i] !== 0x30 || j === i + 1)) value = v;
          else {
            const text = latin1(buf, i, j);
            if (text === "true") value = true;
            else if (text === "false") value = false;
            else if (text === "null") value = null;
            else if (NUMBER_RE.test(text)) value = Number(text);
            else this.fail(`unexpected '${text.slice(0, 20)}'`, i);
          }
          if (top?.kind === "obj" && top.state !== "value") this.fail("expected a key", i);
          this.countOther(i, j - i);
          this.deliver(value, i);
          i = j;
          continue;
        }
      }
    }
    this.offset += i;
    // Keep only the cut token, copied: the caller may reuse its piece.
    this.buf = i === len ? EMPTY : buf.slice(i);
  }
}
