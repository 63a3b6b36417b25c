/**
 * Read-only access to an image file or block device for the format codec.
 * Opened with O_RDONLY: reading tools never write to their input.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import type { SyncReader } from "@dmsnap/format";
import { fileError } from "./ioErrors.js";

export interface ImageFile extends SyncReader {
  readonly path: string;
  close(): void;
}

/** Size of a regular file, or of a block device from sysfs (fstat says 0 there). */
function sizeOf(fd: number, path: string): number {
  const st = fstatSync(fd);
  if (!st.isBlockDevice()) return st.size;
  const major = Math.floor(st.rdev / 256) & 0xfff;
  const minor = (st.rdev & 0xff) | ((Math.floor(st.rdev / 1048576) & 0xfff) << 8);
  try {
    return Number(readFileSync(`/sys/dev/block/${major}:${minor}/size`, "utf8").trim()) * 512;
  } catch (e) {
    throw fileError(e, path, "find the size of block device");
  }
}

export function openImage(path: string): ImageFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw fileError(e, path, "open");
  }
  const size = sizeOf(fd, path);
  return {
    path,
    size,
    read(offset: number, length: number): Uint8Array {
      const buf = new Uint8Array(length);
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
      return buf;
    },
    close() {
      closeSync(fd);
    },
  };
}
