/**
 * The one place dmsnap opens the files it is given (COW, origin, --input,
 * dumps). Rules, stated in docs/cli.md "Safety rules":
 * - only a regular file or a block device is accepted (symlinks followed);
 *   a FIFO, character device, socket or folder is refused with
 *   NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE before it is opened, so nothing
 *   blocks on a FIFO and /dev/zero is never read as an empty or endless file;
 * - readers open O_RDONLY and take a shared lock; writers open O_RDWR (block
 *   devices also O_EXCL) and take an exclusive lock (locks.ts);
 * - a block device's size is the device's (sysfs), not fstat's 0;
 * - two names of one file (symlink, hard link, two nodes of one block
 *   device) are one file: identity is device + inode, or the device number.
 */
import { closeSync, constants, fstatSync, openSync, promises as fsp, readSync, statSync, type Stats } from "node:fs";
import { SECTOR_SIZE, type SyncReader } from "@dmsnap/format";
import { blockDeviceLogicalBlockSize, blockDeviceSize, FileDevice, fileIdentity, sameFilePair, type FileIdentity } from "@dmsnap/store/node";
import { CliError, Exit } from "./errors.js";
import { fileError } from "./ioErrors.js";
import { lock } from "./locks.js";
import { checkFileName } from "./paths.js";

/** What makes two paths the same file: device + inode, or for a block device its device number. */
export type Identity = FileIdentity;
export const identityOf = fileIdentity;

/** A path given on the command line, with the option that named it (for messages). */
export interface Named {
  path: string;
  role: string;
  identity: Identity;
}

/** Refuses SAME_FILE when any two of `files` are one file, whatever the paths say. */
export function refuseSameFile(files: Named[]): void {
  const pair = sameFilePair(files);
  if (pair) {
    const [a, b] = pair;
    throw new CliError(
      "SAME_FILE",
      `${b.role} ${b.path} is the same file as ${a.role} ${a.path} (${a.path === b.path ? "the same path" : "a link to it or another name of the same device"}); give separate files`,
      Exit.Usage,
    );
  }
}

export function kindName(st: Stats): string {
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isSocket()) return "a socket";
  if (st.isDirectory()) return "a folder";
  return "not a regular file";
}

/** Refuses anything but a regular file or block device. */
export function requireFileOrBlock(st: Stats, path: string, role: string): void {
  if (st.isFile() || st.isBlockDevice()) return;
  throw new CliError(
    "NOT_A_REGULAR_FILE_OR_BLOCK_DEVICE",
    `${role} ${path} is ${kindName(st)}; dmsnap reads and writes only regular files and block devices (a stream has no size and cannot be read at offsets): copy the data to a file first`,
    Exit.Usage,
  );
}

/** The size of a block device as the kernel reports it (sysfs counts 512-byte sectors). */
export function blockDeviceBytes(st: Stats, path: string): number {
  try {
    return blockDeviceSize(st.rdev);
  } catch (e) {
    throw fileError(e, path, "find the size of block device");
  }
}

const sizeOf = (st: Stats, path: string): number => (st.isBlockDevice() ? blockDeviceBytes(st, path) : st.size);

/** The logical block size in bytes a chunk size must be a multiple of: a block device's own (4096 on a 4Kn disk), 512 for a file. */
export function logicalBlockSizeOf(st: Stats, path: string): number {
  if (!st.isBlockDevice()) return SECTOR_SIZE;
  try {
    return blockDeviceLogicalBlockSize(st.rdev);
  } catch (e) {
    throw fileError(e, path, "find the logical block size of block device");
  }
}

/** stat that follows symlinks and refuses what we do not open; before open(2), so a FIFO never blocks us. */
function statInput(path: string, role: string): Stats {
  checkFileName(path, role, "input");
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    throw fileError(e, path, `open ${role}`);
  }
  requireFileOrBlock(st, path, role);
  return st;
}

/** After open(2): the file must still be the one we checked (not swapped for a FIFO meanwhile). */
function recheck(before: Stats, after: Stats, path: string, role: string): void {
  requireFileOrBlock(after, path, role);
  if (identityOf(before) !== identityOf(after)) throw new CliError("IO_CHANGED", `${role} ${path} was replaced while dmsnap opened it; rerun`, Exit.Usage);
}

export interface ImageFile extends SyncReader, Named {
  readonly fd: number;
  /** Bytes (512 for a file): activation checks the chunk size against it. */
  readonly logicalBlockSize: number;
  close(): void;
}

/**
 * Reads `length` bytes at `offset` into the start of `buf`, retrying short
 * reads; returns how many were read (fewer only at the end of the file).
 */
export function readFully(fd: number, buf: Uint8Array, length: number, offset: number, path: string): number {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = readSync(fd, buf, done, length - done, offset + done);
    } catch (e) {
      throw fileError(e, path, `read ${length} bytes at offset ${offset} of`);
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** Synchronous reads of `size` bytes through an open descriptor (short at the end of the file). */
export function fdReader(fd: number, size: number, path: string): SyncReader {
  return {
    size,
    read(offset: number, length: number): Uint8Array {
      const buf = new Uint8Array(length);
      readFully(fd, buf, length, offset, path);
      return buf;
    },
  };
}

/** Checks a path without opening it (kind, identity), so commands can refuse SAME_FILE before taking any lock. */
export function identify(path: string, role: string): Named {
  return { path, role, identity: identityOf(statInput(path, role)) };
}

/**
 * Opens a file or block device to read it (dump, check, usage, map, repair's
 * input, restore's dump): O_RDONLY, shared lock, synchronous reads.
 */
export function openImage(path: string, role = "input"): ImageFile {
  const before = statInput(path, role);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw fileError(e, path, `open ${role}`);
  }
  let size: number;
  let identity: Identity;
  let logicalBlockSize: number;
  try {
    const st = fstatSync(fd);
    recheck(before, st, path, role);
    identity = identityOf(st);
    size = sizeOf(st, path);
    logicalBlockSize = logicalBlockSizeOf(st, path);
    lock(fd, "shared", path, role);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const reader = fdReader(fd, size, path);
  return {
    path,
    role,
    identity,
    fd,
    size,
    logicalBlockSize,
    read: reader.read,
    close() {
      closeSync(fd);
    },
  };
}

export interface OpenedDevice extends Named {
  device: FileDevice;
  size: number;
  isBlockDevice: boolean;
  /** Bytes (512 for a file). */
  logicalBlockSize: number;
  /** The raw handle (write's --input reads through it). */
  handle: fsp.FileHandle;
  close(): Promise<void>;
}

/**
 * Opens an existing file or block device for the store: `write` true for
 * the devices a command changes (O_RDWR, O_EXCL on a block device, exclusive
 * lock), false for those it only reads (O_RDONLY, shared lock).
 */
export async function openDevice(path: string, role: string, write: boolean): Promise<OpenedDevice> {
  const before = statInput(path, role);
  const block = before.isBlockDevice();
  const flags = (write ? constants.O_RDWR : constants.O_RDONLY) | (write && block ? constants.O_EXCL : 0) | constants.O_NONBLOCK | constants.O_NOCTTY;
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(path, flags);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EBUSY") {
      throw new CliError("BUSY", `${role} ${path} is in use (mounted, held by device-mapper, or opened by another dmsnap writer); deactivate or unmount it, or wait for the other command, then rerun`, Exit.Usage);
    }
    throw fileError(e, path, `open ${role}${write ? " for writing" : ""}`);
  }
  try {
    const st = await handle.stat();
    recheck(before, st, path, role);
    const size = sizeOf(st, path);
    const logicalBlockSize = logicalBlockSizeOf(st, path);
    lock(handle.fd, write ? "exclusive" : "shared", path, role);
    const device = FileDevice.fromHandle(path, handle, size, { logicalBlockSize, ...(write ? {} : { readOnly: true }) });
    return { path, role, identity: identityOf(st), device, size, isBlockDevice: block, logicalBlockSize, handle, close: () => device.close() };
  } catch (e) {
    await handle.close();
    throw e;
  }
}

/** Closes what was opened, ignoring errors of the ones already closed (cleanup paths). */
export async function closeAll(files: Array<{ close(): Promise<void> | void } | undefined>): Promise<void> {
  for (const f of files) {
    try {
      await f?.close();
    } catch {
      // already closed, or the error that got us here matters more
    }
  }
}
