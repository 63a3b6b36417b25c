/**
 * Output in bounded batches: a 30 M-exception dump is gigabytes of JSON, so
 * it is written as it is produced, never built as one string (V8 strings
 * stop at 2^29 characters). Batches go to stdout with blocking writes (a
 * stream write queues in memory when the reader of a pipe is slower), so
 * memory stays at one batch.
 */
import { writeSync } from "node:fs";
import { CliError, Exit } from "./errors.js";
import { IO_HINTS } from "./ioHints.js";

const BATCH_CHARS = 1 << 16;
/** ByteSink's buffer: big blocks mean few write calls; 1 MiB is the bound on what output holds. */
const BATCH_BYTES = 1 << 20;
/** Room kept free for one number or one short piece of text (2^53 has 16 digits). */
const SLACK = 64;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * What became of standard output: "unused" until a byte of a document is
 * written, "started" after, "failed" once a write failed. An error found after
 * the start is not printed as JSON on stdout (it would be spliced into the
 * document, maybe into a token): printError sends it to stderr.
 */
let stdoutState: "unused" | "started" | "failed" = "unused";
export function stdoutStatus(): "unused" | "started" | "failed" {
  return stdoutState;
}

/** For writers of standard output other than writeStdoutBytes (stdoutThread.ts): a byte handed over, or a failed write. */
export function noteStdout(state: "started" | "failed"): void {
  stdoutState = state;
}

/** The output-error rule: any failed write of standard output is IO_<errno>, exit 2 (docs/cli.md "Safety rules"). */
export function stdoutError(e: unknown): CliError {
  const code = (e as { code?: string }).code ?? "EIO";
  const hint = IO_HINTS[code];
  const what = e instanceof Error ? e.message : String(e);
  return new CliError(`IO_${code}`, `cannot write to standard output: ${what}; the output is incomplete${hint ? `; ${hint}` : ""}`, Exit.Usage);
}

/** Writes bytes [from, from + length) of `buf` to stdout, waiting while a non-blocking pipe is full; a closed pipe ends the run quietly. */
export function writeStdoutBytes(buf: Uint8Array, length = buf.length, from = 0): void {
  if (stdoutState === "failed") throw stdoutError({ code: "EIO", message: "an earlier write failed" });
  for (let done = 0; done < length; ) {
    try {
      const n = writeSync(1, buf, from + done, length - done);
      if (n > 0) stdoutState = "started";
      done += n;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "EAGAIN") {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if (code === "EPIPE") process.exit(process.exitCode ?? 0);
      stdoutState = "failed";
      throw stdoutError(e);
    }
  }
}

/** Writes `text` to stderr (waiting on a full non-blocking pipe); a failing stderr is ignored: nothing could report it. */
export function writeStderr(text: string): void {
  const buf = Buffer.from(text, "utf8");
  for (let done = 0; done < buf.length; ) {
    try {
      done += writeSync(2, buf, done, buf.length - done);
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN") return;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/** Writes all of `s` to stdout (see writeStdoutBytes). */
export function writeStdout(s: string): void {
  writeStdoutBytes(Buffer.from(s, "utf8"));
}

export class TextSink {
  private parts: string[] = [];
  private chars = 0;
  constructor(private readonly write: (s: string) => void = writeStdout) {}

  push(s: string): void {
    this.parts.push(s);
    this.chars += s.length;
    if (this.chars >= BATCH_CHARS) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    this.write(this.parts.join(""));
    this.parts = [];
    this.chars = 0;
  }
}

const ZERO = 48;

/**
 * ASCII output formatted straight into one reused byte buffer: numbers by a
 * digit loop (no string per number), flushed in 1 MiB blocks. For output with
 * millions of numbers (dump --json), where a string per entry costs more than
 * the decoding.
 */
export class ByteSink {
  private buf: Uint8Array;
  private view: DataView;
  /** Bytes the output may fill; the buffer has TAIL more, which the digit stores may overrun into (putUint). */
  private readonly cap: number;
  private at = 0;
  private readonly swap: ((length: number) => Uint8Array) | null;
  /**
   * `write` takes each full batch; or, with `buffers` (a StdoutThread), each
   * batch is handed over in place and the sink goes on in the buffer it gets
   * back (each of ByteSink.bufferBytes(size) bytes).
   */
  constructor(
    private readonly write: (bytes: Uint8Array, length: number) => void = writeStdoutBytes,
    size = BATCH_BYTES,
    buffers?: { first(): Uint8Array; write(length: number): Uint8Array },
  ) {
    this.cap = Math.max(size, 2 * SLACK);
    this.buf = buffers ? buffers.first() : new Uint8Array(this.cap + TAIL);
    if (this.buf.length < this.cap + TAIL) throw new Error(`ByteSink: a buffer of ${this.buf.length} bytes, not ${this.cap + TAIL}`);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.swap = buffers ? (length) => buffers.write(length) : null;
  }

  /** The size of each buffer a sink of `size` bytes fills (its capacity and the tail the digit stores may touch). */
  static bufferBytes(size = BATCH_BYTES): number {
    return Math.max(size, 2 * SLACK) + TAIL;
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): void {
    if (this.at + n > this.cap) this.flush();
  }

  /** One byte (an ASCII character code). */
  byte(c: number): void {
    if (this.at + 1 > this.cap) this.flush();
    this.buf[this.at++] = c;
  }

  /** A string; UTF-8 (JSON.stringify output may hold any character). */
  text(s: string): void {
    if (s.length * 3 > this.cap - SLACK) {
      // Longer than a batch: copied through the buffer in batches.
      const bytes = Buffer.from(s, "utf8");
      for (let i = 0; i < bytes.length; ) {
        if (this.at === this.cap) this.flush();
        const n = Math.min(bytes.length - i, this.cap - this.at);
        this.buf.set(bytes.subarray(i, i + n), this.at);
        this.at += n;
        i += n;
      }
      return;
    }
    this.room(s.length * 3);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Rare: hand the rest to the encoder.
        this.at = at;
        const rest = Buffer.from(s.slice(i), "utf8");
        this.room(rest.length);
        this.buf.set(rest, this.at);
        this.at += rest.length;
        return;
      }
      buf[at++] = c;
    }
    this.at = at;
  }

  /** A non-negative integer below 2^53 in decimal, exactly as String(n) prints it. */
  uint(n: number): void {
    if (this.at + MAX_DIGITS > this.cap) this.flush();
    this.at = putUint(this.view, this.at, n);
  }

  /**
   * Rows [from, to) of two columns as JSON pairs `[a,b]`, each after a comma
   * unless `first` (the dump's exception list). The whole cost of a big dump
   * is this loop, so it checks the room once per run of rows that surely fit,
   * not per byte, and keeps the buffer and the cursor in locals.
   */
  pairs(a: ArrayLike<number>, b: ArrayLike<number>, from: number, to: number, first: boolean): void {
    let k = from;
    if (first && k < to) {
      this.room(PAIR_BYTES);
      const buf = this.buf;
      let at = this.at;
      buf[at++] = OPEN;
      at = putUint(this.view, at, a[k]!);
      buf[at++] = COMMA;
      at = putUint(this.view, at, b[k]!);
      buf[at++] = CLOSE;
      this.at = at;
      k++;
    }
    while (k < to) {
      if (this.cap - this.at < PAIR_BYTES + 1) this.flush();
      const buf = this.buf;
      const view = this.view;
      let at = this.at;
      const end = Math.min(to, k + Math.floor((this.cap - at) / (PAIR_BYTES + 1)));
      for (; k < end; k++) {
        buf[at++] = COMMA;
        buf[at++] = OPEN;
        at = putUint(view, at, a[k]!);
        buf[at++] = COMMA;
        at = putUint(view, at, b[k]!);
        buf[at++] = CLOSE;
      }
      this.at = at;
    }
  }

  /**
   * pairs() for entries 0 .. count-1 of a metadata piece given as its Uint32
   * words (old low, old high, new low, new high; activation has checked that
   * every number is below 2^53): the dump's second pass formats straight
   * from the area it read, with no copy into a table first.
   */
  entryPairs(words: Uint32Array, count: number, first: boolean): void {
    let k = 0;
    if (first && count > 0) {
      this.pairs([joinWords(words, 0)], [joinWords(words, 2)], 0, 1, true);
      k = 1;
    }
    while (k < count) {
      if (this.cap - this.at < PAIR_BYTES + 1) this.flush();
      const buf = this.buf;
      const view = this.view;
      let at = this.at;
      const end = Math.min(count, k + Math.floor((this.cap - at) / (PAIR_BYTES + 1)));
      for (; k < end; k++) {
        const w = k << 2;
        const oldHi = words[w + 1]!;
        const newHi = words[w + 3]!;
        buf[at++] = COMMA;
        buf[at++] = OPEN;
        at = putUint(view, at, oldHi === 0 ? words[w]! : oldHi * TWO_32 + words[w]!);
        buf[at++] = COMMA;
        at = putUint(view, at, newHi === 0 ? words[w + 2]! : newHi * TWO_32 + words[w + 2]!);
        buf[at++] = CLOSE;
      }
      this.at = at;
    }
  }

  flush(): void {
    if (this.at === 0) return;
    if (this.swap) {
      this.buf = this.swap(this.at);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    } else this.write(this.buf, this.at);
    this.at = 0;
  }
}

const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
/** 2^53 - 1 has 16 digits. */
const MAX_DIGITS = 16;
/** `[a,b]` at most. */
const PAIR_BYTES = 3 + 2 * MAX_DIGITS;
/** Bytes past the buffer's capacity that a 4-byte digit store may overrun into (putUint). */
const TAIL = 4;
const TWO_32 = 4294967296;
/** "0000" to "9999" as four ASCII bytes in one little-endian word: four digits per division, one store. */
const DIGITS4 = new Uint32Array(10000);
/**
 * 0 to 9999 without leading zeros, left-aligned in a little-endian word ("7"
 * and three bytes the next store overwrites), and their lengths: one store
 * and no branch on the length.
 */
const LEAD4 = new Uint32Array(10000);
const LEAD_LENGTH = new Uint8Array(10000);
for (let i = 0; i < 10000; i++) {
  const d = [Math.floor(i / 1000), Math.floor(i / 100) % 10, Math.floor(i / 10) % 10, i % 10];
  DIGITS4[i] = (ZERO + d[0]!) | ((ZERO + d[1]!) << 8) | ((ZERO + d[2]!) << 16) | ((ZERO + d[3]!) << 24);
  const length = i < 10 ? 1 : i < 100 ? 2 : i < 1000 ? 3 : 4;
  LEAD_LENGTH[i] = length;
  LEAD4[i] = DIGITS4[i]! >>> (8 * (4 - length));
}

/** A number from two Uint32 words, low first. */
function joinWords(words: Uint32Array, at: number): number {
  return words[at + 1]! * TWO_32 + words[at]!;
}

/**
 * Writes `n` (a non-negative integer below 2^53) in decimal at `at`, exactly
 * as String(n) prints it; returns the end. Every store is a whole 4-byte
 * word, so up to 3 bytes past the end are overwritten: the buffer keeps TAIL
 * bytes past its capacity for the last number.
 */
function putUint(view: DataView, at: number, n: number): number {
  if (n < 10000) {
    view.setUint32(at, LEAD4[n]!, true);
    return at + LEAD_LENGTH[n]!;
  }
  if (n >= 1e8) return putBig(view, at, n);
  const high = (n / 10000) >>> 0;
  view.setUint32(at, LEAD4[high]!, true);
  at += LEAD_LENGTH[high]!;
  view.setUint32(at, DIGITS4[n - high * 10000]!, true);
  return at + 4;
}

/** putUint from 10^8 up (rare: kept out of the hot path so that it stays small). */
function putBig(view: DataView, at: number, n: number): number {
  // Below 2^53 the split into a head and the low 8 digits is exact in doubles (the head is below 2^27).
  const head = Math.floor(n / 1e8);
  const low = n - head * 1e8;
  const mid = (low / 10000) >>> 0;
  if (head < 10000) {
    view.setUint32(at, LEAD4[head]!, true);
    at += LEAD_LENGTH[head]!;
  } else {
    const top = (head / 10000) >>> 0;
    view.setUint32(at, LEAD4[top]!, true);
    at += LEAD_LENGTH[top]!;
    view.setUint32(at, DIGITS4[head - top * 10000]!, true);
    at += 4;
  }
  view.setUint32(at, DIGITS4[mid]!, true);
  view.setUint32(at + 4, DIGITS4[low - mid * 10000]!, true);
  return at + 8;
}
