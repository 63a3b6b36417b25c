import { CliError, Exit } from "./errors.js";

/** Maps a Node file-system error to a CliError that says what to do next. */
export function fileError(e: unknown, path: string, doing: string): CliError {
  const code = (e as { code?: string }).code ?? "EIO";
  const hint: Record<string, string> = {
    ENOENT: "check the path",
    EACCES: "check its permissions (or run as a user who may read it)",
    EPERM: "check its permissions",
    EISDIR: "give a file or block device, not a folder",
    EBUSY: "the device is in use; deactivate the snapshot first",
    ENOSPC: "free some space on the target file system",
    EROFS: "the file system is read-only",
  };
  return new CliError(`IO_${code}`, `cannot ${doing} ${path}: ${(e as Error).message}${hint[code] ? `; ${hint[code]}` : ""}`, Exit.Usage);
}
