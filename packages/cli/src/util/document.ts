/**
 * Where a command prints a document (dump's summary, --json or --lossless):
 * standard output, or with `-o FILE` a file created by outputs.ts under the
 * safety rules (same file as an input refused, OUTPUT_EXISTS without --force,
 * a temporary put in place only when complete, removed on error or signal).
 */
import { writeSync } from "node:fs";
import { fileError } from "./ioErrors.js";
import type { Named } from "./inputs.js";
import { cleanUpOnSignals, createOutput } from "./outputs.js";
import { writeStdoutBytes } from "./textSink.js";

export interface Document {
  /** Appends text (blocking, like writeStdout: memory stays at one batch). */
  write(text: string): void;
  /** Appends bytes [0, length) of `bytes` (a ByteSink's batch). */
  writeBytes(bytes: Uint8Array, length: number): void;
  /** Puts a file in place; nothing for standard output. */
  commit(): Promise<void>;
  /** Removes an uncommitted temporary; safe after commit. */
  abort(): Promise<void>;
}

const STDOUT: Document = { write: (text) => writeStdoutBytes(Buffer.from(text, "utf8")), writeBytes: writeStdoutBytes, commit: async () => {}, abort: async () => {} };

export async function openDocument(path: string | undefined, role: string, inputs: Named[], force: boolean): Promise<Document> {
  if (path === undefined || path === "-") return STDOUT;
  cleanUpOnSignals();
  const out = await createOutput(path, { role, inputs, force });
  const fd = out.handle.fd;
  let position = 0;
  const writeBytes = (buf: Uint8Array, length: number): void => {
    try {
      for (let done = 0; done < length; ) {
        const n = writeSync(fd, buf, done, length - done, position);
        done += n;
        position += n;
      }
    } catch (e) {
      throw fileError(e, path, `write ${role}`);
    }
  };
  return {
    write: (text) => writeBytes(Buffer.from(text, "utf8"), Buffer.byteLength(text, "utf8")),
    writeBytes,
    commit: () => out.commit(),
    abort: () => out.abort(),
  };
}
