/**
 * write's --input as the store reads it: the bytes the file gives when read
 * to its end, not the size stat reports. A kernel file (/proc, /sys, ...)
 * says 0 or 4096 bytes whatever it holds, so such a file (and any file stat
 * calls empty) is read to its end first, into memory (kernel files are
 * small; MAX_KERNEL_FILE bounds it). Other files are read in place; if one
 * ends before its stat size (it shrank meanwhile) the write stops with
 * IO_CHANGED, and a failed read is IO_<errno> naming --input.
 */
import { statfsSync, type Stats } from "node:fs";
import { CliError, Exit } from "./errors.js";
import { fileError } from "./ioErrors.js";
import type { OpenedDevice } from "./inputs.js";

/** statfs f_type of the kernel's pseudo file systems, whose files' sizes are not their lengths. */
const PSEUDO_FS = new Set([0x9fa0 /* proc */, 0x62656572 /* sysfs */, 0x64626720 /* debugfs */, 0x74726163 /* tracefs */, 0x73636673 /* securityfs */, 0x62656570 /* configfs */, 0xde5e81e4 /* efivarfs */, 0x27e0eb /* cgroup */, 0x63677270 /* cgroup2 */, 0xcafe4a11 /* bpf */, 0x6165676c /* pstore */]);
const MAX_KERNEL_FILE = 64 << 20;
const PIECE = 1 << 16;

function isKernelFile(path: string, st: Stats): boolean {
  if (!st.isFile()) return false;
  if (st.size === 0) return true;
  try {
    return PSEUDO_FS.has(statfsSync(path).type);
  } catch {
    return false;
  }
}

/** What applyWrite reads the input through (the store's InputSource). */
export interface InputSource {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export async function inputSource(input: OpenedDevice): Promise<{ source: InputSource; bytes: number }> {
  const { path, role, handle } = input;
  const st = await handle.stat();
  if (isKernelFile(path, st)) {
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      const piece = Buffer.allocUnsafe(PIECE);
      let n: number;
      try {
        ({ bytesRead: n } = await handle.read(piece, 0, PIECE, null));
      } catch (e) {
        throw fileError(e, path, `read ${role}`);
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_KERNEL_FILE) throw new CliError("INPUT_TOO_LARGE", `${role} ${path} is a kernel file (its size is not its length) longer than ${MAX_KERNEL_FILE} bytes; copy it to a regular file first`, Exit.Usage);
      parts.push(piece.subarray(0, n));
    }
    const all = Buffer.concat(parts, total);
    return {
      bytes: total,
      source: {
        read: async (buffer, offset, length, position) => {
          const n = Math.max(0, Math.min(length, total - position));
          buffer.set(all.subarray(position, position + n), offset);
          return { bytesRead: n };
        },
        close: async () => {},
      },
    };
  }
  const bytes = input.size;
  return {
    bytes,
    source: {
      read: async (buffer, offset, length, position) => {
        let r: { bytesRead: number };
        try {
          r = await handle.read(buffer, offset, length, position);
        } catch (e) {
          throw fileError(e, path, `read ${length} bytes at offset ${position} of ${role}`);
        }
        if (r.bytesRead === 0 && position < bytes) {
          throw new CliError("IO_CHANGED", `${role} ${path} ended at byte ${position} although it had ${bytes} bytes when opened (it changed while dmsnap read it); nothing past that byte was written; rerun when nothing else writes to it`, Exit.Usage);
        }
        return r;
      },
      close: () => handle.close(),
    },
  };
}
