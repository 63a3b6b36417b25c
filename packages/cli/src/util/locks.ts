/**
 * Advisory locks on the files dmsnap reads and writes, so that two writers
 * never interleave on one COW and a reader never decodes a half-written one.
 *
 * Node has no flock(2) binding. flock locks belong to the open file
 * description, not to the process: util-linux `flock -n 3`, started with our
 * already-open descriptor as its fd 3, locks that description and exits, and
 * the lock stays held by us until we close the descriptor (or die: kill -9
 * releases it too, so a lock is never stale). No native addon, no lock files.
 *
 * Block devices opened for writing also get O_EXCL (in inputs.ts/outputs.ts):
 * the kernel then refuses the open while the device is mounted, held by
 * device-mapper or opened O_EXCL by another writer.
 */
import { spawnSync } from "node:child_process";
import { CliError, Exit } from "./errors.js";

export type LockMode = "shared" | "exclusive";

/** The exit status we ask flock(1) to use for "held by someone else" (-E). */
const CONFLICT = 75;

/** Set DMSNAP_NO_LOCK=1 to skip locking (a machine without util-linux); unsafe if another dmsnap runs at once. */
const disabled = (): boolean => process.env.DMSNAP_NO_LOCK === "1";

/** Tries to lock `fd` without waiting: "locked", "busy", or an error text. */
export function tryLock(fd: number, mode: LockMode): "locked" | "busy" | { error: string } {
  if (disabled()) return "locked";
  const r = spawnSync("flock", [mode === "exclusive" ? "-x" : "-s", "-n", "-E", String(CONFLICT), "3"], {
    stdio: ["ignore", "ignore", "pipe", fd],
    encoding: "utf8",
    timeout: 10_000,
  });
  if (r.error) return { error: (r.error as NodeJS.ErrnoException).code === "ENOENT" ? "flock(1) from util-linux is not installed" : r.error.message };
  if (r.status === 0) return "locked";
  if (r.status === CONFLICT) return "busy";
  return { error: (r.stderr || `flock exited with ${r.status}`).trim() };
}

/**
 * Locks `fd` (open on `path`) or throws: BUSY when another process holds a
 * conflicting lock, LOCK_FAILED when the lock cannot be taken at all.
 */
export function lock(fd: number, mode: LockMode, path: string, role: string): void {
  const r = tryLock(fd, mode);
  if (r === "locked") return;
  if (r === "busy") {
    throw new CliError(
      "BUSY",
      mode === "exclusive"
        ? `${role} ${path} is locked by another process (a dmsnap command using it); wait for it to finish, then rerun`
        : `${role} ${path} is locked for writing by another process (a dmsnap command changing it); wait for it to finish, then rerun (reading now could see a half-written state)`,
      Exit.Usage,
    );
  }
  throw new CliError("LOCK_FAILED", `cannot lock ${role} ${path}: ${r.error}; install util-linux (flock), or set DMSNAP_NO_LOCK=1 if no other dmsnap can run on it at the same time`, Exit.Usage);
}
