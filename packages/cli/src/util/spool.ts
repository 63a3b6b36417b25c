/**
 * Standard input, copied to a private temporary file: restore reads a dump
 * twice (a checking pass, then a writing pass) in constant memory, which a
 * pipe cannot give. Scratch space, not an output:
 * - it is removed on every way out: success and failure (the caller's
 *   `remove`), a failed copy (ENOSPC: removed at once, so $TMPDIR is not left
 *   full), SIGINT/SIGTERM/SIGHUP and exit (the output temporaries' handlers);
 * - standard input is read through Node's stream (epoll for a pipe or socket),
 *   not a loop of read(2): a non-blocking descriptor waits instead of spinning
 *   on EAGAIN, and a signal is handled while the copy waits for data.
 * After kill -9 the file stays: `$TMPDIR/dmsnap-restore-PID-RANDOM.json`.
 */
import { closeSync, constants, openSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CliError, Exit } from "./errors.js";
import { fileError } from "./ioErrors.js";
import { removeOnSignals } from "./outputs.js";

export interface Spool {
  /** The copy's path. */
  path: string;
  /** Removes it (safe to call twice). */
  remove(): void;
}

/** Errors of a full or refusing $TMPDIR, where the next step is to point TMPDIR elsewhere. */
const NO_ROOM = new Set(["ENOSPC", "EDQUOT", "EFBIG"]);

function spoolError(e: unknown, path: string, doing: string): CliError {
  const code = (e as { code?: string }).code ?? "EIO";
  if (!NO_ROOM.has(code)) return fileError(e, path, `${doing} the copy of standard input (restore reads the dump twice)`);
  return new CliError(
    `IO_${code}`,
    `cannot ${doing} the copy of standard input ${path}: ${(e as Error).message}; the copy was removed; restore copies a dump read from '-' to $TMPDIR (${tmpdir()}) first: set TMPDIR to a folder with room for the whole dump, or give the dump as a file`,
    Exit.Usage,
  );
}

/** Copies standard input to a new private file in $TMPDIR; returns it. */
export async function spoolStdin(): Promise<Spool> {
  // Loaded here, not at start-up (as in outputs.ts).
  const { randomBytes } = await import("node:crypto");
  const path = join(tmpdir(), `dmsnap-restore-${process.pid}-${randomBytes(6).toString("hex")}.json`);
  // Registered before it exists: a signal from the first byte on finds it on the list.
  const remove = removeOnSignals(path);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    remove();
    throw spoolError(e, path, "create");
  }
  try {
    try {
      for await (const piece of process.stdin as AsyncIterable<Buffer>) {
        for (let done = 0; done < piece.length; ) {
          try {
            done += writeSync(fd, piece, done, piece.length - done);
          } catch (e) {
            throw spoolError(e, path, "write");
          }
        }
      }
    } catch (e) {
      throw e instanceof CliError ? e : fileError(e, "standard input", "read");
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    remove();
    throw e;
  }
  return { path, remove };
}
