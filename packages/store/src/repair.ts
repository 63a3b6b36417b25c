/**
 * Repair: salvage → the same CowMetadata restore writes → restore. The
 * input's bytes are copied to the target (data chunks unchanged), then the
 * salvaged entries are re-laid under a fresh header by restoreMetadata, and
 * the result is read back as the kernel would activate it.
 *
 * Memory: bounded whatever the exception count. Salvage is streamed: a first
 * walk of the input's chain counts what it keeps, and the restore walks it
 * again, a piece at a time (the keep-the-first rule needs one bit a chunk
 * number, old and new, up to 2^28: salvage.ts, chunkSeen.ts); the copy and
 * the restore work in 1 MiB pieces, and the check of the result counts the
 * entries without keeping them.
 */
import { decodeCowAsync, makeHeader, roomForEntries, salvageStreamed, type CowMetadata, type SalvageOptions, type SalvageSummary, type SyncReader } from "@dmsnap/format";
import { StoreError, StoreErrorCode } from "./errors.js";
import { restoreMetadata, type RestoreProgress, type RestoreTarget } from "./restore.js";

export interface RepairOptions extends Pick<SalvageOptions, "chunkSize" | "originBytes"> {
  /** Write valid=1 (default) or 0. */
  valid?: boolean;
  /** The target is all zeros (a new sparse file): zero pieces of the input are not written, so they stay holes. */
  targetIsZero?: boolean;
  /** Progress of the copy, in bytes. */
  progress?: RestoreProgress;
  /** Labels for messages. */
  inputName?: string;
  targetName?: string;
}

export interface RepairResult {
  found: SalvageSummary;
  metadata: CowMetadata;
  /** Reading the target back as the kernel would gives the salvaged entries at the salvaged chunk size. */
  verified: boolean;
}

/** Bytes copied at a time, and the size of a zero piece left unwritten on a zero target. */
const COPY_BLOCK = 1 << 20;
const HOLE_PIECE = 1 << 16;

/** Salvages `input` onto `target` (at least as large as the input). Never writes to `input`. */
export async function repairCow(input: SyncReader, target: RestoreTarget, options: RepairOptions = {}): Promise<RepairResult> {
  const found = salvageStreamed(input, { ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }), ...(options.originBytes === undefined ? {} : { originBytes: options.originBytes }) });
  if (found.chunkSize === 0) {
    throw new StoreError(
      StoreErrorCode.ChunkSizeUnknown,
      `no chunk size makes the metadata of ${options.inputName ?? "the input"} parse (no sound exception found at any power of two up to 16384 sectors) and the header gives none; if you know it, rerun with --chunk-size <sectors>`,
    );
  }
  const metadata: CowMetadata = { deviceBytes: input.size, header: makeHeader(found.chunkSize, options.valid ?? true), exceptionCount: found.kept, batches: () => found.batches() };
  if (!roomForEntries(found.chunkSize, found.kept, input.size)) {
    throw new StoreError(
      StoreErrorCode.NoRoom,
      `${found.kept} exceptions fill the last metadata area exactly, and the zeroed area that must follow lies past the end of the device, so no kernel layout holds them all; rerun with --json to see them, or restore a trimmed 'dump --lossless' onto a larger device`,
    );
  }
  await copyBytes(input, target, !!options.targetIsZero, options.progress);
  await restoreMetadata(target, metadata, { force: true, ...(options.targetName === undefined ? {} : { targetName: options.targetName }) });
  const back = await decodeCowAsync({ size: input.size, read: (offset, length) => target.read(offset, length) }, { readInvalid: true, keepEntries: false });
  const verified = back.exceptionCount === found.kept && back.chunkSize === found.chunkSize;
  return { found, metadata, verified };
}

/** Copies every byte of `input` to `target` a MiB at a time; on a zero target, zero 64 KiB pieces are skipped. */
async function copyBytes(input: SyncReader, target: RestoreTarget, targetIsZero: boolean, progress?: RestoreProgress): Promise<void> {
  progress?.start("copy", input.size, "bytes");
  for (let at = 0; at < input.size; at += COPY_BLOCK) {
    const block = input.read(at, Math.min(COPY_BLOCK, input.size - at));
    for (let p = 0; p < block.length; ) {
      let q = p;
      while (q < block.length && (!targetIsZero || !allZero(block.subarray(q, Math.min(block.length, q + HOLE_PIECE))))) q = Math.min(block.length, q + HOLE_PIECE);
      if (q > p) {
        await target.write(at + p, block.subarray(p, q));
        p = q;
      } else {
        p += HOLE_PIECE;
      }
    }
    progress?.update(at + block.length);
  }
  progress?.stop();
}

function allZero(b: Uint8Array): boolean {
  const words = b.byteOffset % 4 === 0 && b.length % 4 === 0 ? new Int32Array(b.buffer, b.byteOffset, b.length / 4) : null;
  if (words) {
    // OR-ed together, tested every 64 words: a sparse COW is mostly holes, and a test per word cost more than the read.
    let i = 0;
    for (; i + 64 <= words.length; i += 64) {
      let any = 0;
      for (let k = i; k < i + 64; k++) any |= words[k]!;
      if (any !== 0) return false;
    }
    for (; i < words.length; i++) if (words[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
