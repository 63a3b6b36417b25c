import { FormatError } from "@dmsnap/format";
import { IO_HINTS } from "./ioHints.js";

/** Exit codes shared by every command. */
export const Exit = {
  Ok: 0,
  /** The image is refused, or has problems (check), or the operation could not be applied to it. */
  Image: 1,
  /** Bad arguments, or the file could not be read or written. */
  Usage: 2,
} as const;

/** An error the CLI reports with a stable code and exits on. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = Exit.Usage,
  ) {
    super(message);
  }
}

/** Turns any thrown value into {code, message, exit}. */
export function describeError(e: unknown): { code: string; message: string; exitCode: number } {
  if (e instanceof CliError) return { code: e.code, message: e.message, exitCode: e.exitCode };
  if (e instanceof FormatError) return { code: e.code, message: e.message, exitCode: Exit.Image };
  // Library errors with a stable code (store errors); Node system errors carry `syscall` and are I/O.
  const withCode = e as { code?: unknown; message?: unknown; exitCode?: unknown; syscall?: unknown; path?: unknown; cause?: unknown };
  if (withCode && typeof withCode.code === "string" && typeof withCode.message === "string") {
    if (typeof withCode.syscall === "string") return systemError(withCode.code, withCode.message, withCode.path);
    // A store I/O failure wraps the system error: keep its errno in the code, the store's text (file, offset) in the message.
    const cause = withCode.cause as { code?: unknown; syscall?: unknown } | undefined;
    if (withCode.code === "IO_ERROR" && cause && typeof cause.code === "string" && typeof cause.syscall === "string") {
      const hint = IO_HINTS[cause.code];
      return { code: `IO_${cause.code}`, message: `${withCode.message}${hint ? `; ${hint}` : ""}`, exitCode: Exit.Usage };
    }
    const exitCode = typeof withCode.exitCode === "number" ? withCode.exitCode : Exit.Image;
    return { code: withCode.code, message: withCode.message, exitCode };
  }
  // A bug: say so plainly; the stack is for DMSNAP_DEBUG=1 (main.ts prints it on stderr).
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return { code: "INTERNAL", message: `unexpected error (${what}); this is a bug in dmsnap: please report it with the command line and the output of the same command run with DMSNAP_DEBUG=1`, exitCode: Exit.Usage };
}

/** A Node system error that escaped without a file name: name the file from the error, add the next step. */
function systemError(errno: string, message: string, path: unknown): { code: string; message: string; exitCode: number } {
  const hint = IO_HINTS[errno];
  const file = typeof path === "string" && !message.includes(path) ? ` (${path})` : "";
  return { code: `IO_${errno}`, message: `${message}${file}${hint ? `; ${hint}` : ""}`, exitCode: Exit.Usage };
}
