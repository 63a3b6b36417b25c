/**
 * Space for a write's copies, reserved before the origin is touched. A COW
 * made by `create --size` is a sparse file: the file system may have no room
 * left when a copy lands in a hole, and by then the kernel's order (copy,
 * commit, then the origin write) would already have invalidated the snapshot
 * while the origin write went on. Reserving the chunks the write will
 * allocate (fallocate, or zeros where the file system cannot) turns that into
 * a refusal (NO_SPACE) with nothing written anywhere.
 */
import { spawnSync } from "node:child_process";
import { advanceNextFree, chunkAtByte, chunkKind, chunkOffset, skipMetadata } from "@dmsnap/format";
import type { FileDevice } from "./fileDevice.js";
import { StoreError, StoreErrorCode } from "./errors.js";
import type { Snapshot } from "./snapshot.js";

const ZERO_PIECE = 1 << 20;

/** The byte range of the COW chunks a write of `length` bytes at `offset` will allocate (up to and including the next area), or null. */
export function copyRange(snap: Snapshot, offset: number, length: number): { from: number; to: number; chunks: number } | null {
  if (!snap.valid || length <= 0) return null;
  const cs = snap.chunkSize;
  const cb = snap.store.chunkBytes;
  let chunks = 0;
  for (let c = chunkAtByte(cs, offset); c <= chunkAtByte(cs, offset + length - 1); c++) if (snap.index.get(c) < 0) chunks++;
  if (chunks === 0) return null;
  let last = skipMetadata(cs, snap.store.nextFree);
  for (let i = 1; i < chunks; i++) last = advanceNextFree(cs, last);
  // And the next area when the last copy fills the current one (it is zeroed then).
  const end = chunkKind(cs, last + 1) === "metadata" ? last + 2 : last + 1;
  const from = chunkOffset(cs, snap.store.nextFree);
  const to = Math.min(snap.cow.size, chunkOffset(cs, end));
  return from < to ? { from, to, chunks } : null;
}

/** Allocates [from, to) of a regular-file COW; throws NO_SPACE when the file system cannot hold it. */
export async function reserve(cow: FileDevice, from: number, to: number, chunks: number): Promise<void> {
  if (!(await cow.isRegularFile())) return; // a block device has its space
  const r = spawnSync("fallocate", ["--keep-size", "--offset", String(from), "--length", String(to - from), `/proc/${process.pid}/fd/${cow.fd}`], { encoding: "utf8" });
  if (r.status === 0) return;
  const text = `${r.stderr ?? ""}${r.error?.message ?? ""}`;
  if (/No space left|Disk quota exceeded|File too large/i.test(text)) throw noRoom(cow.path, to - from, chunks);
  // No fallocate here (or the file system lacks it): the free chunks hold nothing, so zeros reserve them as well.
  const zeros = new Uint8Array(Math.min(ZERO_PIECE, to - from));
  try {
    for (let at = from; at < to; at += zeros.length) await cow.write(at, zeros.subarray(0, Math.min(zeros.length, to - at)));
    await cow.flush();
  } catch (e) {
    if (/ENOSPC|EDQUOT|EFBIG/.test(String((e as { message?: string }).message) + String((e as { cause?: { code?: string } }).cause?.code))) throw noRoom(cow.path, to - from, chunks);
    throw e;
  }
}

function noRoom(path: string, bytes: number, chunks: number): StoreError {
  return new StoreError(
    StoreErrorCode.NoSpace,
    `the file system holding the COW ${path} has no room for the ${chunks} chunk(s) this write must copy (${bytes} bytes of a sparse file); nothing was written, the origin and the snapshot are intact; free some space there (or preallocate the COW: fallocate -l <size> ${path}) and rerun`,
  );
}
