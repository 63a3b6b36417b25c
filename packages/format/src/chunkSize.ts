import { DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, SECTOR_SIZE } from "./constants.js";
import { sectorsIn } from "./layout.js";
import { ErrorCode, FormatError } from "./errors.js";

/**
 * Why a chunk size is unusable, in the kernel's order of checks, or null when
 * it is fine. `logicalBlockSize` is the COW device's (and origin's) logical
 * block size in bytes.
 */
export function chunkSizeProblem(chunkSize: number, logicalBlockSize = SECTOR_SIZE): string | null {
  if (!Number.isInteger(chunkSize) || chunkSize <= 0 || (chunkSize & (chunkSize - 1)) !== 0 || chunkSize > 0x80000000) {
    return `chunk size ${chunkSize} is not a power of two`;
  }
  const blockSectors = Math.max(1, sectorsIn(logicalBlockSize));
  if (chunkSize % blockSectors !== 0) {
    return `chunk size ${chunkSize} is not a multiple of the device's logical block size (${logicalBlockSize} bytes)`;
  }
  if (chunkSize > MAX_CHUNK_SIZE) {
    return `chunk size ${chunkSize} is above the kernel's limit of ${MAX_CHUNK_SIZE} sectors (INT_MAX >> 9), so the largest is ${highestPowerOfTwo(MAX_CHUNK_SIZE)} (1 GiB)`;
  }
  return null;
}

/** Throws INVALID_CHUNK_SIZE unless the kernel would accept `chunkSize`. */
export function validateChunkSize(chunkSize: number, logicalBlockSize = SECTOR_SIZE): void {
  const problem = chunkSizeProblem(chunkSize, logicalBlockSize);
  if (problem !== null) {
    throw new FormatError(
      ErrorCode.InvalidChunkSize,
      `${problem}; a chunk size is a power of two number of 512-byte sectors (1, 2, 4, ... ${highestPowerOfTwo(MAX_CHUNK_SIZE)})`,
    );
  }
}

/** The chunk size the kernel uses when the table gives 0. */
export function defaultChunkSize(logicalBlockSize = SECTOR_SIZE): number {
  return Math.max(DEFAULT_CHUNK_SIZE, sectorsIn(logicalBlockSize));
}

function highestPowerOfTwo(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}
