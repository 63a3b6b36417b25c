/** What to do next for each system error code an I/O can fail with. */
export const IO_HINTS: Record<string, string> = {
  ENOENT: "check the path",
  EACCES: "check its permissions (or run as a user who may access it)",
  EPERM: "check its permissions (an immutable or append-only file, or a block device set read-only: 'blockdev --getro')",
  EISDIR: "give a file or block device, not a folder",
  ENOTDIR: "a part of the path is not a folder; check the path",
  EBUSY: "the device is in use; deactivate the snapshot first",
  ENOSPC: "free some space on the target file system, or write somewhere with more room",
  EDQUOT: "your disk quota is exhausted; free some space or write somewhere else",
  EFBIG: "the file system cannot hold a file that large (ext4 stops at 16 TiB); write to a file system that can, or use a block device",
  EROFS: "the file system is read-only; write somewhere else",
  ELOOP: "too many levels of symbolic links (a loop?); check the links with 'ls -l', or give the real file",
  ENAMETOOLONG: "the path is too long; use a shorter one",
  EIO: "the device reported an I/O error; check 'dmesg' and the device's health",
  ENXIO: "the device is not there (removed, or a FIFO with no writer); check the path",
  EMFILE: "too many open files; raise 'ulimit -n'",
  EINVAL: "the file or device refused the operation (alignment or size); check the device",
};
