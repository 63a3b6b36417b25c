/**
 * What can be wrong with one exception entry, in one place for the checker
 * (diagnose), salvage and merge: one set of codes, one structural test.
 */
import { ErrorCode } from "./errors.js";
import { isMetadataChunk } from "./layout.js";

export const EntryCode = {
  DuplicateOldChunk: "DUPLICATE_OLD_CHUNK",
  DuplicateNewChunk: "DUPLICATE_NEW_CHUNK",
  NewChunkIsMetadata: "NEW_CHUNK_IS_METADATA",
  NewChunkBeyondDevice: "NEW_CHUNK_BEYOND_DEVICE",
  OldChunkBeyondOrigin: "OLD_CHUNK_BEYOND_ORIGIN",
  /** Only salvage meets it per entry; activation refuses the whole image with it. */
  ChunkNumberTooLarge: ErrorCode.ChunkNumberTooLarge,
} as const;
export type EntryCode = (typeof EntryCode)[keyof typeof EntryCode];

/** Bits of entryProblems. */
export const EntryProblem = {
  /** new_chunk is the header or a metadata area, which never holds copied data. */
  NewChunkIsMetadata: 1,
  /** new_chunk is at or past the device's last whole chunk. */
  NewChunkBeyondDevice: 2,
  /** old_chunk is at or past the origin's end. */
  OldChunkBeyondOrigin: 4,
} as const;

/**
 * The structural problems of entry {oldChunk, newChunk} as EntryProblem bits
 * (0 = sound). Duplicates need the whole list and are the caller's.
 * `originChunks` is Infinity when the origin's size is unknown.
 */
export function entryProblems(chunkSize: number, deviceChunks: number, originChunks: number, oldChunk: number, newChunk: number): number {
  return (
    (isMetadataChunk(chunkSize, newChunk) ? EntryProblem.NewChunkIsMetadata : 0) |
    (newChunk >= deviceChunks ? EntryProblem.NewChunkBeyondDevice : 0) |
    (oldChunk >= originChunks ? EntryProblem.OldChunkBeyondOrigin : 0)
  );
}
