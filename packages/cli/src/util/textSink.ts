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

/** The output-error rule: any failed write of standard output is IO_<errno>, exit 2 (docs/cli.md "Safety rules"). */
export function stdoutError(e: unknown): CliError {
  const code = (e as { code?: string }).code ?? "EIO";
  const hint = IO_HINTS[code];
  const what = e instanceof Error ? e.message : String(e);
  return new CliError(`IO_${code}`, `cannot write to standard output: ${what}; the output is incomplete${hint ? `; ${hint}` : ""}`, Exit.Usage);
}

/** Writes bytes [0, length) of `buf` to stdout, waiting while a non-blocking pipe is full; a closed pipe ends the run quietly. */
export function writeStdoutBytes(buf: Uint8Array, length = buf.length): void {
  if (stdoutState === "failed") throw stdoutError({ code: "EIO", message: "an earlier write failed" });
  for (let done = 0; done < length; ) {
    try {
      const n = writeSync(1, buf, done, length - done);
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

const TWO_32 = 4294967296;
const ZERO = 48;

/**
 * ASCII output formatted straight into one reused byte buffer: numbers by a
 * digit loop (no string per number), flushed in 1 MiB blocks. For output with
 * millions of numbers (dump --json), where a string per entry costs more than
 * the decoding.
 */
export class ByteSink {
  private readonly buf: Uint8Array;
  private at = 0;
  constructor(
    private readonly write: (bytes: Uint8Array, length: number) => void = writeStdoutBytes,
    size = BATCH_BYTES,
  ) {
    this.buf = new Uint8Array(Math.max(size, 2 * SLACK));
  }

  /** Makes room for `n` more bytes. */
  private room(n: number): void {
    if (this.at + n > this.buf.length) this.flush();
  }

  /** One byte (an ASCII character code). */
  byte(c: number): void {
    if (this.at + 1 > this.buf.length) this.flush();
    this.buf[this.at++] = c;
  }

  /** A string; UTF-8 (JSON.stringify output may hold any character). */
  text(s: string): void {
    if (s.length * 3 > this.buf.length - SLACK) {
      this.flush();
      this.write(Buffer.from(s, "utf8"), Buffer.byteLength(s, "utf8"));
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
    if (this.at + 16 > this.buf.length) this.flush();
    if (n < TWO_32) {
      this.at = putU32(this.buf, this.at, n >>> 0);
      return;
    }
    // Below 2^53 the split into high and low 8 digits is exact in doubles.
    const high = Math.floor(n / 1e8);
    const low = n - high * 1e8;
    const at = putU32(this.buf, this.at, high);
    for (let i = at + 7, v = low; i >= at; i--) {
      const q = (v / 10) >>> 0;
      this.buf[i] = ZERO + v - q * 10;
      v = q;
    }
    this.at = at + 8;
  }

  flush(): void {
    if (this.at === 0) return;
    this.write(this.buf, this.at);
    this.at = 0;
  }
}

/** Writes `v` (< 2^32) in decimal at `at`; returns the end. */
function putU32(buf: Uint8Array, at: number, v: number): number {
  const end = at + (v < 100000 ? (v < 100 ? (v < 10 ? 1 : 2) : v < 1000 ? 3 : v < 10000 ? 4 : 5) : v < 10000000 ? (v < 1000000 ? 6 : 7) : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10);
  for (let i = end - 1; i >= at; i--) {
    const q = (v / 10) >>> 0;
    buf[i] = ZERO + v - q * 10;
    v = q;
  }
  return end;
}
