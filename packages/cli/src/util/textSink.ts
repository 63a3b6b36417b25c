/**
 * Text output in bounded batches: a 30 M-exception dump is gigabytes of JSON,
 * so it is written as it is produced, never built as one string (V8 strings
 * stop at 2^29 characters). Batches go to stdout with blocking writes (a
 * stream write queues in memory when the reader of a pipe is slower), so
 * memory stays at one batch.
 */
import { writeSync } from "node:fs";

const BATCH_CHARS = 1 << 16;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `s` to stdout, waiting while a non-blocking pipe is full; a closed pipe ends the run quietly. */
export function writeStdout(s: string): void {
  const buf = Buffer.from(s, "utf8");
  for (let done = 0; done < buf.length; ) {
    try {
      done += writeSync(1, buf, done, buf.length - done);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "EAGAIN") {
        Atomics.wait(pause, 0, 0, 1);
        continue;
      }
      if (code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    }
  }
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
