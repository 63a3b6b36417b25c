/**
 * The one place dmsnap creates or replaces an output (export --output, map
 * --svg, repair --output, create --cow --size, restore of a missing --cow).
 * Rules, stated in docs/cli.md "Safety rules":
 * - a symlink is followed: its target is written, the link stays;
 * - an output that is one of the inputs (device + inode, or device number;
 *   any link or name) is refused with SAME_FILE;
 * - an existing file or block device is overwritten only with --force
 *   (OUTPUT_EXISTS otherwise);
 * - a regular file is written under a hidden temporary name in the same
 *   folder (`.NAME.dmsnap-tmp-PID-RANDOM`), fsynced, and only then renamed
 *   (with --force) or hard-linked (without: never clobbers a file that
 *   appeared meanwhile) into place; the folder is fsynced;
 * - a block device is written in place, opened O_EXCL, after a size check;
 * - FIFOs, character devices, sockets and folders are refused;
 * - temporaries are removed on error, on SIGINT/SIGTERM/SIGHUP and at exit;
 *   after kill -9 the next run writing the same output removes them (a live
 *   one is recognised by its lock and its owner's pid).
 */
import { closeSync, constants, linkSync, lstatSync, openSync, promises as fsp, readdirSync, readlinkSync, statSync, unlinkSync, type Stats } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, isAbsolute, join } from "node:path";
import { BlockingFileDevice, FileDevice } from "@dmsnap/store/node";
import { CliError, Exit } from "./errors.js";
import { fileError } from "./ioErrors.js";
import { blockDeviceBytes, identityOf, kindName, refuseSameFile, type Named } from "./inputs.js";
import { lock, tryLock } from "./locks.js";
import { checkFileName, isUtf8, notUtf8 } from "./paths.js";

export interface OutputOptions {
  /** The option that named it, for messages ("--output"). */
  role: string;
  /** The command's inputs: the output must be none of them. */
  inputs: Named[];
  /** Overwrite an existing file or block device. */
  force: boolean;
  /** Bytes the command will write: a block device must hold at least this many. */
  bytes?: number;
}

export interface Output extends Named {
  /** The file actually written: the path with symlinks followed. */
  target: string;
  /** "file": a temporary renamed into place on commit; "block": the device itself. */
  kind: "file" | "block";
  handle: fsp.FileHandle;
  /** Size of a block device (0 for a new file until the command sizes it). */
  deviceBytes: number;
  /** The store's view of it (closing it is commit's or abort's job). */
  device(size: number): FileDevice;
  /** The same through synchronous calls, for a job that does nothing else meanwhile (restore, repair: one write per metadata area). */
  blockingDevice(size: number): BlockingFileDevice;
  /** Positioned writes whose errors name the output (IO_ENOSPC ... --output x: free some space). */
  sink: OutputSink;
  /** Makes the output durable and puts it in place. */
  commit(): Promise<void>;
  /** Removes the temporary (a block device keeps what was written). Safe to call twice, or after commit. */
  abort(): Promise<void>;
}

export interface OutputSink {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

function sinkOf(handle: fsp.FileHandle, path: string, role: string): OutputSink {
  return {
    write: (buffer, offset, length, position) => handle.write(buffer, offset, length, position).catch((e: unknown) => Promise.reject(fileError(e, path, `write ${length} bytes at offset ${position} of ${role}`))),
    sync: () => handle.sync().catch((e: unknown) => Promise.reject(fileError(e, path, `flush ${role}`))),
    // Closing is commit's or abort's job.
    close: async () => {},
  };
}

/**
 * Follows symlinks to the file that would be written (which may not exist
 * yet). A relative path stays relative (no process.cwd(): Node decodes a
 * non-UTF-8 folder name lossily); a link target that is not UTF-8 is refused
 * (paths.ts).
 */
export function followLinks(path: string, role: string): string {
  checkFileName(path, role, "output");
  let p = path;
  for (let hops = 0; hops < 40; hops++) {
    let st: Stats;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return p;
      throw fileError(e, path, `look up ${role}`);
    }
    if (!st.isSymbolicLink()) return p;
    const link = readlinkSync(p, { encoding: "buffer" });
    if (!isUtf8(link)) throw notUtf8(`the target of the symbolic link ${role} ${path}`, link, "");
    const to = link.toString("utf8");
    p = isAbsolute(to) ? to : join(dirname(p), to);
  }
  throw new CliError("IO_ELOOP", `cannot write ${role} ${path}: too many levels of symbolic links (a loop?); check the links with 'ls -l', or give the real file`, Exit.Usage);
}

export async function createOutput(path: string, options: OutputOptions): Promise<Output> {
  const { role } = options;
  const target = followLinks(path, role);
  let st: Stats | null = null;
  try {
    st = statSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw fileError(e, path, `look up ${role}`);
  }
  if (st) {
    if (!st.isFile() && !st.isBlockDevice()) {
      throw new CliError(
        "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE",
        `${role} ${path} is ${kindName(st)}; dmsnap writes only regular files (created or replaced whole) and block devices (in place): give a file name${role === "--svg" ? ", or '-' for standard output" : ""}`,
        Exit.Usage,
      );
    }
    refuseSameFile([...options.inputs, { path, role, identity: identityOf(st) }]);
    if (!options.force) {
      throw new CliError("OUTPUT_EXISTS", `${role} ${path} already exists${st.isBlockDevice() ? " (a block device: its data would be overwritten)" : ""}; choose a new file, or rerun with --force to overwrite it`, Exit.Usage);
    }
    if (st.isBlockDevice()) return openBlockOutput(path, target, st, options);
  }
  return openFileOutput(path, target, st, options);
}

async function openBlockOutput(path: string, target: string, st: Stats, options: OutputOptions): Promise<Output> {
  const { role } = options;
  const size = blockDeviceBytes(st, path);
  if (options.bytes !== undefined && size < options.bytes) {
    throw new CliError("OUTPUT_TOO_SMALL", `${role} ${path} is a block device of ${size} bytes; ${options.bytes} are needed; give a larger device or a file`, Exit.Usage);
  }
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(target, constants.O_WRONLY | constants.O_EXCL);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EBUSY") throw new CliError("BUSY", `${role} ${path} is in use (mounted, held by device-mapper or another writer); unmount or deactivate it, then rerun`, Exit.Usage);
    throw fileError(e, path, `open ${role} for writing`);
  }
  try {
    const now = await handle.stat();
    if (identityOf(now) !== identityOf(st)) throw new CliError("IO_CHANGED", `${role} ${path} was replaced while dmsnap opened it; rerun`, Exit.Usage);
    lock(handle.fd, "exclusive", path, role);
  } catch (e) {
    await handle.close();
    throw e;
  }
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    await handle.close();
  };
  return {
    path,
    role,
    identity: identityOf(st),
    target,
    kind: "block",
    handle,
    deviceBytes: size,
    device: (n) => FileDevice.fromHandle(path, handle, n),
    blockingDevice: (n) => BlockingFileDevice.fromHandle(path, handle, n),
    sink: sinkOf(handle, path, role),
    async commit() {
      try {
        await handle.datasync();
      } catch (e) {
        throw fileError(e, path, "flush");
      } finally {
        await close();
      }
    },
    abort: close,
  };
}

/**
 * `.NAME.dmsnap-tmp-`: every temporary of NAME starts so (also those of older
 * versions). A temporary's name must fit NAME_MAX (255 bytes) whatever NAME's
 * length: NAME is cut to its first 200 bytes (at a character boundary), which
 * leaves room for the rest (`.dmsnap-tmp-`, a pid of up to 7 digits, `-`, 8
 * random hex digits: 229 bytes at most).
 */
const tmpPrefix = (name: string): string => `.${shortName(name)}.dmsnap-tmp-`;
const TMP_NAME_BYTES = 200;

function shortName(name: string): string {
  const bytes = Buffer.from(name, "utf8");
  if (bytes.length <= TMP_NAME_BYTES) return name;
  let end = TMP_NAME_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

const notPlaced = (role: string, path: string): string => `${role} ${path} was not put in place (it is built under a temporary name, now removed)`;

async function openFileOutput(path: string, target: string, existing: Stats | null, options: OutputOptions): Promise<Output> {
  const { role } = options;
  const dir = dirname(target);
  removeStaleTemporaries(dir, basename(target));
  const tmp = join(dir, `${tmpPrefix(basename(target))}${process.pid}-${randomHex(4)}`);
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, existing ? existing.mode & 0o7777 : 0o666);
  } catch (e) {
    throw fileError(e, path, `create a temporary file next to ${role}`);
  }
  temporaries.add(tmp);
  try {
    // The lock marks the temporary as live for removeStaleTemporaries in other processes.
    lock(handle.fd, "exclusive", tmp, role);
  } catch (e) {
    await discard(handle, tmp);
    throw e;
  }
  let state: "open" | "committed" | "aborted" = "open";
  const st = await handle.stat();
  return {
    path,
    role,
    identity: identityOf(st),
    target,
    kind: "file",
    handle,
    deviceBytes: 0,
    // An error names the output and says nothing was put in place (not the COW advice of the store's default).
    device: (n) => FileDevice.fromHandle(path, handle, n, { nextStep: notPlaced(role, path) }),
    blockingDevice: (n) => BlockingFileDevice.fromHandle(path, handle, n, undefined, undefined, notPlaced(role, path)),
    sink: sinkOf(handle, path, role),
    async commit() {
      if (state !== "open") throw new Error(`output ${path} already ${state}`);
      try {
        await handle.sync();
        if (existing) await fsp.rename(tmp, target);
        else await placeWithoutClobbering(tmp, target, path, role);
        temporaries.delete(tmp);
        state = "committed";
        await handle.close();
        await syncDir(dir);
      } catch (e) {
        if (state === "open") {
          state = "aborted";
          await discard(handle, tmp);
        }
        throw e instanceof CliError ? e : fileError(e, path, `write ${role}`);
      }
    },
    async abort() {
      if (state !== "open") return;
      state = "aborted";
      await discard(handle, tmp);
    },
  };
}

/** link(2) fails if the name exists, so a file created meanwhile is never replaced; rename on file systems without hard links. */
async function placeWithoutClobbering(tmp: string, target: string, path: string, role: string): Promise<void> {
  try {
    // Back to back, with no turn of the event loop between: a kill -9 between the two leaves the temporary as a second
    // name of the finished output (same inode, no space), which the next run writing that output removes.
    linkSync(tmp, target);
    unlinkSync(tmp);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new CliError("OUTPUT_EXISTS", `${role} ${path} was created by someone else while dmsnap wrote it; nothing was overwritten; choose a new file, or rerun with --force`, Exit.Usage);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK") throw e;
  }
  try {
    await fsp.lstat(target);
    throw new CliError("OUTPUT_EXISTS", `${role} ${path} was created by someone else while dmsnap wrote it; nothing was overwritten; choose a new file, or rerun with --force`, Exit.Usage);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  await fsp.rename(tmp, target);
}

async function discard(handle: fsp.FileHandle, tmp: string): Promise<void> {
  try {
    await handle.close();
  } catch {
    // already closed
  }
  removeTemporary(tmp);
}

function removeTemporary(tmp: string): void {
  try {
    unlinkSync(tmp);
  } catch {
    // gone already
  }
  temporaries.delete(tmp);
}

async function syncDir(dir: string): Promise<void> {
  try {
    const h = await fsp.open(dir, "r");
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Some file systems cannot fsync a folder; the rename is still atomic.
  }
}

/** A temporary older than this with no lock is stale even if its pid was reused. */
const STALE_MS = 60_000;

/**
 * Removes temporaries a killed run left for `name` in `dir`: those nobody
 * holds a lock on, whose owner is gone (or that are older than a minute).
 * A live writer holds an exclusive lock on its temporary from creation on.
 */
export function removeStaleTemporaries(dir: string, name: string): number {
  const prefix = tmpPrefix(name);
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const entry of entries) {
    // A name Node decoded lossily (U+FFFD) cannot be passed back to unlink exactly: never touched.
    if (!entry.startsWith(prefix) || entry.includes("\uFFFD")) continue;
    const p = join(dir, entry);
    const pid = Number(entry.slice(prefix.length).split("-")[0]);
    let fd: number;
    try {
      const st = lstatSync(p);
      if (!st.isFile()) continue;
      if (pid === process.pid || (alive(pid) && Date.now() - st.mtimeMs < STALE_MS)) continue;
      fd = openSync(p, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      continue;
    }
    try {
      if (tryLock(fd, "exclusive") === "locked") {
        unlinkSync(p);
        removed++;
      }
    } catch {
      // someone else removed it
    } finally {
      closeSync(fd);
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Temporaries of this process that are not yet in place. */
const temporaries = new Set<string>();
let handlersInstalled = false;

/** Removes every temporary of this process now (signal and exit paths: synchronous). */
export function removeTemporaries(): void {
  for (const tmp of [...temporaries]) removeTemporary(tmp);
}

/**
 * On SIGINT, SIGTERM and SIGHUP: remove the temporaries, then die of the same
 * signal (so the shell sees it). Installed once, at start-up of every command
 * that writes an output; without temporaries the signal acts as usual.
 */
export function cleanUpOnSignals(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", removeTemporaries);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const handler = (): void => {
      removeTemporaries();
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

/**
 * A scratch file of this process (restore's copy of standard input): removed
 * like a temporary, on SIGINT/SIGTERM/SIGHUP and at exit, or when the
 * returned function is called.
 */
export function removeOnSignals(path: string): () => void {
  cleanUpOnSignals();
  temporaries.add(path);
  return () => removeTemporary(path);
}

/**
 * `bytes` random bytes in hex, for a temporary's name. node:crypto is loaded
 * here, on the first output file, not when the CLI starts: most commands
 * never create one, and it costs a few ms of every start-up.
 */
function randomHex(bytes: number): string {
  return (createRequire(import.meta.url)("node:crypto") as typeof import("node:crypto")).randomBytes(bytes).toString("hex");
}
