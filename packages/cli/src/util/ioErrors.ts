import { CliError, Exit } from "./errors.js";
import { IO_HINTS } from "./ioHints.js";


/** Maps a Node file-system error to a CliError that names the file and says what to do next. */
export function fileError(e: unknown, path: string, doing: string): CliError {
  const code = (e as { code?: string }).code ?? "EIO";
  const hint = IO_HINTS[code];
  return new CliError(`IO_${code}`, `cannot ${doing} ${path}: ${(e as Error).message}${hint ? `; ${hint}` : ""}`, Exit.Usage);
}
