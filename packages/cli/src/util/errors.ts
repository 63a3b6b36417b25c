import { FormatError } from "@dmsnap/format";

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
  const withCode = e as { code?: unknown; message?: unknown; exitCode?: unknown; syscall?: unknown };
  if (withCode && typeof withCode.code === "string" && typeof withCode.message === "string") {
    if (typeof withCode.syscall === "string") return { code: `IO_${withCode.code}`, message: withCode.message, exitCode: Exit.Usage };
    const exitCode = typeof withCode.exitCode === "number" ? withCode.exitCode : Exit.Image;
    return { code: withCode.code, message: withCode.message, exitCode };
  }
  return { code: "INTERNAL", message: e instanceof Error ? (e.stack ?? e.message) : String(e), exitCode: Exit.Usage };
}
