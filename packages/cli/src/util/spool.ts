/**
 * Standard input, copied to a private temporary file: restore reads a dump
 * twice (a checking pass, then a writing pass) in constant memory, which a
 * pipe cannot give. Scratch space, not an output: the caller removes its
 * folder when done.
 */
import { closeSync, mkdtempSync, openSync, readSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileError } from "./ioErrors.js";

/** Copies standard input to a private temporary file in 1 MiB pieces; returns its path. */
export function spoolStdin(): string {
  const dir = mkdtempSync(join(tmpdir(), "dmsnap-restore-"));
  const path = join(dir, "dump.json");
  const fd = openSync(path, "wx", 0o600);
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(0, buf, 0, buf.length, null);
      } catch (e) {
        if ((e as { code?: string }).code === "EAGAIN") continue;
        if ((e as { code?: string }).code === "EOF") break;
        throw fileError(e, "standard input", "read");
      }
      if (n === 0) break;
      for (let done = 0; done < n; ) done += writeSync(fd, buf, done, n - done);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}
